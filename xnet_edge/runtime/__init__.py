"""The thin runtime: load an engine (or ONNX, plan, checkpoint) and turn images into metric depth.

``from xnet_edge.runtime import Runtime, RuntimeOptions``. The TensorRT and ONNX Runtime paths never
import torch; backend libraries load only when a Runtime needs them.
"""

from .artifact import Artifact, choose_backend, resolve_artifact, verify_artifact
from .inference import InferResult, infer
from .runtime_options import RuntimeOptions
from .runtime import Runtime
from .spec import Preprocessing, TensorSpec
from .timing import STAGES, StageTimes, summarize_ms

__all__ = ["Artifact", "InferResult", "Preprocessing", "Runtime", "RuntimeOptions", "STAGES", "StageTimes",
           "TensorSpec", "choose_backend", "infer", "resolve_artifact", "summarize_ms", "verify_artifact"]
