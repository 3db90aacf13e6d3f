"""Ahead-of-time compilation of the real launches for sm_90 (H100) on this CPU-only machine.

The interpreter runs the kernels' Python, not Triton's compiler; these tests run the
compiler (TTIR → PTX → cubin, with the ptxas Triton ships) on the launches the
launchers make with the GPU block heuristic, and check the cubins for spills.
They run in a subprocess: kernels compile only when TRITON_INTERPRET is unset.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("triton")


def run_audit(snippet: str) -> list[dict]:
    code = textwrap.dedent("""
        import json, torch
        from xnet_edge.kernels import aot, launchers
        from xnet_edge.kernels.heuristics import override_up_mode
        from xnet_edge.kernels.shapes import BridgeShape, PyramidShape, bridge_args, pyramid_args
        calls = []
    """) + textwrap.dedent(snippet) + "\nprint(json.dumps(aot.audit(calls, arch=90, progress=False)))\n"
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_two_pass_norm_bridge_compiles_without_spills():
    """A coarse x (second kernel) and a 384-channel LayerNorm (two passes) in fp16."""
    rows = run_audit("""
        a = bridge_args(BridgeShape(batch=1, ce=192, hw=(16, 20), cout=384, cx=768, x_hw=(8, 10),
                                    norm="layernorm", act="gelu"), torch.float16)
        def call():
            with override_up_mode("coarse"):
                launchers.bridge(a["x"], a["e"], a["img"], a["wx"], a["we"], a["wi"], a["bias"],
                                 a["norm_weight"], a["norm_bias"], 1e-6, "gelu")
        calls.append(("bridge", call))
    """)
    assert [r["kernel"] for r in rows] == ["project_levels_kernel", "fused_sum_kernel"]
    assert all(r["stack"] == 0 for r in rows), [(r["kernel"], r["registers"], r["stack"]) for r in rows]
    assert rows[1]["config"] == "P16 CO128 K64 w8"  # 384 > 128 channels: the two-pass path


@pytest.mark.slow
def test_every_real_launch_compiles_without_spills():
    """Every bridge and pyramid of xnet_lite0 and xnet_convnext_tiny, 256x320 and 480x640, batch 1
    and 8, fp16/bf16/fp32 (TF32 dots): 204 launches."""
    rows = run_audit("""
        torch.backends.cudnn.allow_tf32 = True
        calls += aot.model_calls(["xnet_lite0", "xnet_convnext_tiny"], [(256, 320), (480, 640)], [1, 8],
                                 ["fp16", "bf16", "fp32"])
    """)
    assert len(rows) > 150
    spilled = [r for r in rows if r["stack"] > 0]
    assert not spilled, json.dumps(spilled, indent=1)[:3000]
