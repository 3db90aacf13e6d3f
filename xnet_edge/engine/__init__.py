"""Engine building: target-specific TensorRT plans and optimized ONNX models, with a manifest.

* :mod:`.manifest` — the engine folder contract (``manifest.json``): read, write,
  verify hashes, check an engine against this machine (:mod:`xnet_edge.platform`).
* :mod:`.build_options` — ``BuildOptions``: what the user asks of a build, checked once.
* :mod:`.plan` — which precision path, flags and profile a target gets (pure data).
* :mod:`.trtexec_script` — the equivalent ``trtexec`` command line.
* :mod:`.tensorrt_builder` / :mod:`.trt_calibrator` — the only code that calls TensorRT.
* :mod:`.cpu_builder` — the ``cpu`` target (ONNX Runtime offline graph optimization).
* :mod:`.build` — ``build_engine``: one entry point for every target.
* :mod:`.bundle` — a tar.gz to build the engine on the robot itself.

Nothing here imports tensorrt, a CUDA binding, onnxruntime or torch at module level.
"""

from .manifest import (EngineCompatibilityError, HashMismatchError, ManifestError, check_compatibility,
                       ensure_compatible, read_manifest, verify_hashes, write_manifest)
from .build_options import BuildOptions

__all__ = ["BuildOptions", "EngineCompatibilityError", "HashMismatchError", "ManifestError", "check_compatibility",
           "ensure_compatible", "read_manifest", "verify_hashes", "write_manifest"]
