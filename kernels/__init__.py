"""Feature-alignment bridge ops for ×Net (installed as ``xnet_edge.kernels``).

``reference`` holds the pure-PyTorch definitions (the export path and the
ground truth for tests). Fused Triton implementations are selected only on
CUDA with Triton installed; importing this package never imports triton.
"""

from .reference import ACTIVATIONS, apply_activation, bridge_reference, pyramid_merge_reference

__all__ = ["ACTIVATIONS", "apply_activation", "bridge_reference", "pyramid_merge_reference"]
