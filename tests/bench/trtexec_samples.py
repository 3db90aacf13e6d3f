"""trtexec output captured as text, for the parser tests (no TensorRT needed)."""

# The tail of a TensorRT 10 trtexec run (--loadEngine, 3 s), as it prints it.
TRT10_LOG = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec --loadEngine=model.plan --warmUp=200 --duration=3
[11/02/2025-09:14:05] [I] Average on 10 runs - GPU latency: 4.24171 ms - Host latency: 4.29793 ms (enqueue 1.81771 ms)
[11/02/2025-09:14:05] [I] Average on 10 runs - GPU latency: 4.24151 ms - Host latency: 4.29618 ms (enqueue 1.81737 ms)
[11/02/2025-09:14:05] [I]
[11/02/2025-09:14:05] [I] === Performance summary ===
[11/02/2025-09:14:05] [I] Throughput: 232.514 qps
[11/02/2025-09:14:05] [I] Latency: min = 4.27838 ms, max = 5.82495 ms, mean = 4.29966 ms, median = 4.29718 ms, percentile(90%) = 4.30725 ms, percentile(95%) = 4.31128 ms, percentile(99%) = 4.32874 ms
[11/02/2025-09:14:05] [I] Enqueue Time: min = 1.29205 ms, max = 9.09888 ms, mean = 1.81459 ms, median = 1.80908 ms, percentile(90%) = 1.90063 ms, percentile(95%) = 1.93323 ms, percentile(99%) = 2.10571 ms
[11/02/2025-09:14:05] [I] H2D Latency: min = 0.0429688 ms, max = 0.0881348 ms, mean = 0.0481567 ms, median = 0.0478516 ms, percentile(90%) = 0.0495605 ms, percentile(95%) = 0.050293 ms, percentile(99%) = 0.0546875 ms
[11/02/2025-09:14:05] [I] GPU Compute Time: min = 4.22046 ms, max = 5.77051 ms, mean = 4.24194 ms, median = 4.23926 ms, percentile(90%) = 4.24902 ms, percentile(95%) = 4.25293 ms, percentile(99%) = 4.27002 ms
[11/02/2025-09:14:05] [I] D2H Latency: min = 0.00683594 ms, max = 0.0192871 ms, mean = 0.00971603 ms, median = 0.00976562 ms, percentile(90%) = 0.0107422 ms, percentile(95%) = 0.0109863 ms, percentile(99%) = 0.0124512 ms
[11/02/2025-09:14:05] [I] Total Host Walltime: 3.00412 s
[11/02/2025-09:14:05] [I] Total GPU Compute Time: 2.96512 s
[11/02/2025-09:14:05] [W] * GPU compute time is unstable, with coefficient of variance = 2.10486%.
[11/02/2025-09:14:05] [W]   If not already in use, locking GPU clock frequency or adding --useSpinWait may improve the stability.
[11/02/2025-09:14:05] [I] Explanations of the performance metrics are printed in the verbose logs.
&&&& PASSED TensorRT.trtexec [TensorRT v100300] # trtexec --loadEngine=model.plan --warmUp=200 --duration=3
"""

# TensorRT 8.4 prints only the 99th percentile.
TRT84_SUMMARY = """\
[07/28/2022-16:00:55] [I] === Performance summary ===
[07/28/2022-16:00:55] [I] Throughput: 716.632 qps
[07/28/2022-16:00:55] [I] Latency: min = 1.3476 ms, max = 1.5657 ms, mean = 1.38629 ms, median = 1.38037 ms, percentile(99%) = 1.55853 ms
[07/28/2022-16:00:55] [I] GPU Compute Time: min = 1.3476 ms, max = 1.5657 ms, mean = 1.38629 ms, median = 1.38037 ms, percentile(99%) = 1.55853 ms
[07/28/2022-16:00:55] [I] Total Host Walltime: 3.00294 s
"""
