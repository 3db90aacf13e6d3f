"""Feature-alignment bridge ops for ×Net (installed as ``xnet_edge.kernels``).

* ``reference`` — the pure-PyTorch definitions: the export path and the ground truth.
* ``fused_bridge`` / ``fused_pyramid_merge`` — the fused ops; on CUDA with Triton
  installed they run one or two Triton launches, elsewhere the reference
  (see :mod:`.dispatch`). Registered as ``torch.ops.xnet_edge.*`` custom ops.
* ``fuse_model`` / ``FusedBridge`` / ``FusedPyramidMerge`` — swap a model's
  modules for fused ones with the same parameters.
* ``set_exportable`` / ``is_exportable`` / ``exportable`` — force the reference
  ops (ONNX export), timm style.
* ``shapes`` — the real models' bridge/pyramid shapes and random arguments;
  ``aot`` — compile the kernels for a GPU arch without a GPU and report registers/spills
  (``python -m xnet_edge.kernels.aot``). Both are tools for these kernels rather than for
  benchmarks alone, so they ship with them: ``aot`` checks that a change to a kernel or to its
  block-size heuristics still compiles without spills for the user's GPU (sm_87 on a Jetson
  Orin, for example) on a machine without one, and ``shapes`` is the catalogue of the shapes
  the real models run that ``aot``, the kernel tests and ``benchmarks/bench_kernels.py``
  share. Neither is imported by the package.

Importing this package never imports triton; the kernels load on first use.
"""

from .dispatch import BACKENDS, exportable, is_exportable, set_exportable
from .ops import fused_bridge, fused_pyramid_merge
from .reference import ACTIVATIONS, apply_activation, bridge_reference, pyramid_merge_reference

_MODULE_API = {"fuse_model", "is_fused", "FusedBridge", "FusedPyramidMerge"}

__all__ = ["ACTIVATIONS", "BACKENDS", "apply_activation", "bridge_reference", "pyramid_merge_reference",
           "fused_bridge", "fused_pyramid_merge", "exportable", "is_exportable", "set_exportable",
           *sorted(_MODULE_API)]


def __getattr__(name):
    # modules.py subclasses xnet_edge.models' modules, which import this package: load it lazily.
    if name in _MODULE_API:
        from . import modules
        return getattr(modules, name)
    raise AttributeError(f"module 'xnet_edge.kernels' has no attribute {name!r}")
