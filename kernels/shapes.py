"""Bridge/pyramid problem shapes: recorded from real models, turned into random arguments.

Used by the benchmarks (the exact shapes ``xnet_lite0`` and
``xnet_convnext_tiny`` run) and the tests. Shapes are recorded on the
``meta`` device, so no weights are allocated and nothing is computed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

import torch


@dataclass(frozen=True)
class BridgeShape:
    """One Re-Shape bridge call as the fused op sees it (BatchNorm already folded: norm "none").

    Attributes:
        batch: images.
        ce, hw: encoder feature channels and (H, W) (the output size).
        cout: output channels.
        cx, x_hw: previous decoder output channels and size, None at the deepest level.
        use_image: whether the pooled image is mixed in.
        norm: "layernorm" or "none".
        act: activation name.
    """

    batch: int
    ce: int
    hw: tuple[int, int]
    cout: int
    cx: Optional[int] = None
    x_hw: Optional[tuple[int, int]] = None
    use_image: bool = True
    norm: str = "none"
    act: str = "relu6"

    def describe(self) -> str:
        x = f"x{self.cx}@{self.x_hw[0]}x{self.x_hw[1]}+" if self.cx else ""
        img = "+img" if self.use_image else ""
        return (f"bridge B{self.batch} {x}e{self.ce}@{self.hw[0]}x{self.hw[1]}{img}->{self.cout} "
                f"{'LN ' if self.norm == 'layernorm' else ''}{self.act}")


@dataclass(frozen=True)
class PyramidShape:
    """One Post Feature Pyramid merge.

    Attributes:
        batch: images.
        levels: (channels, h, w) per decoder level, in call order.
        cout: common width.
        act: activation name.
    """

    batch: int
    levels: tuple[tuple[int, int, int], ...]
    cout: int
    act: str = "identity"

    @property
    def hw(self) -> tuple[int, int]:
        c, h, w = max(self.levels, key=lambda lvl: lvl[1] * lvl[2])
        return h, w

    def describe(self) -> str:
        lv = ",".join(f"{c}@{h}x{w}" for c, h, w in self.levels)
        return f"pyramid B{self.batch} [{lv}]->{self.cout} {self.act}"


@functools.lru_cache(maxsize=4)
def _meta_model(model_name: str) -> torch.nn.Module:
    """The unfused variant with meta tensors: shapes only, no memory, built once per name."""
    from ..models import create_model

    with torch.device("meta"):
        return create_model(model_name, fused=False)


def record_shapes(model_name: str, input_hw: tuple[int, int], batch: int = 1
                  ) -> tuple[list[BridgeShape], PyramidShape]:
    """The bridge and pyramid shapes of a registered ×Net variant at an input size.

    Args:
        model_name: e.g. "xnet_lite0".
        input_hw: network input (H, W), multiples of the model's output stride.
        batch: images per call.

    Returns:
        (bridge shapes deepest first, pyramid shape).
    """
    from ..models.bridge import Bridge, PyramidMerge

    bridges: list[BridgeShape] = []
    pyramid: list[PyramidShape] = []

    def on_bridge(module, args, _out):
        x, e, img = args
        bridges.append(BridgeShape(
            batch=batch, ce=int(e.shape[1]), hw=tuple(e.shape[-2:]), cout=module.out_channels,
            cx=int(x.shape[1]) if x is not None else None, x_hw=tuple(x.shape[-2:]) if x is not None else None,
            use_image=img is not None and module.wi is not None,
            norm="layernorm" if module.norm_kind == "layernorm" else "none", act=module.act))

    def on_pyramid(module, args, _out):
        levels = tuple((int(f.shape[1]), int(f.shape[2]), int(f.shape[3])) for f in args[0])
        pyramid.append(PyramidShape(batch=batch, levels=levels, cout=module.out_channels, act=module.act))

    model = _meta_model(model_name)
    handles = []
    for m in model.modules():
        if isinstance(m, Bridge):
            handles.append(m.register_forward_hook(on_bridge))
        elif isinstance(m, PyramidMerge):
            handles.append(m.register_forward_hook(on_pyramid))
    try:
        with torch.no_grad():
            model(torch.empty(batch, 3, *input_hw, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return bridges, pyramid[0]


def _randn(generator: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=generator) * scale


def bridge_args(shape: BridgeShape, dtype: torch.dtype = torch.float32, device="cpu", seed: int = 0) -> dict:
    """Random arguments for ``fused_bridge`` / ``bridge_reference`` (keyword form).

    Weights are scaled by 1/sqrt(fan-in) so outputs stay O(1) in any dtype.
    Activations and weights are in ``dtype``; bias and norm parameters in fp32.
    """
    g = torch.Generator().manual_seed(seed)
    b, (h, w) = shape.batch, shape.hw

    def act(*s):
        return _randn(g, *s).to(device=device, dtype=dtype)

    def weight(cin):
        return _randn(g, shape.cout, cin, scale=cin ** -0.5).to(device=device, dtype=dtype)

    args = dict(x=None, e=act(b, shape.ce, h, w), img=None, wx=None, we=weight(shape.ce), wi=None,
                bias=_randn(g, shape.cout, scale=0.5).to(device), act=shape.act)
    if shape.cx:
        args.update(x=act(b, shape.cx, *shape.x_hw), wx=weight(shape.cx))
    if shape.use_image:
        args.update(img=act(b, 3, h, w), wi=weight(3))
    if shape.norm == "layernorm":
        args.update(norm_weight=(1 + _randn(g, shape.cout, scale=0.2)).to(device),
                    norm_bias=_randn(g, shape.cout, scale=0.2).to(device))
    return args


def pyramid_args(shape: PyramidShape, dtype: torch.dtype = torch.float32, device="cpu", seed: int = 0) -> dict:
    """Random arguments for ``fused_pyramid_merge`` / ``pyramid_merge_reference`` (keyword form)."""
    g = torch.Generator().manual_seed(seed)
    feats = [_randn(g, shape.batch, c, h, w).to(device=device, dtype=dtype) for c, h, w in shape.levels]
    weights = [_randn(g, shape.cout, c, scale=(c * len(shape.levels)) ** -0.5).to(device=device, dtype=dtype)
               for c, _, _ in shape.levels]
    return dict(feats=feats, weights=weights, bias=_randn(g, shape.cout, scale=0.5).to(device), act=shape.act)


def bridge_bytes(shape: BridgeShape, itemsize: int) -> int:
    """Bytes a perfect kernel moves: every input and weight read once, the output written once."""
    h, w = shape.hw
    elems = shape.batch * (shape.ce + shape.cout) * h * w + shape.cout * (shape.ce + 1)  # e, y, We, b
    if shape.cx:
        elems += shape.batch * shape.cx * shape.x_hw[0] * shape.x_hw[1] + shape.cout * shape.cx
    if shape.use_image:
        elems += shape.batch * 3 * h * w + shape.cout * 3
    if shape.norm == "layernorm":
        elems += 2 * shape.cout
    return elems * itemsize


def pyramid_bytes(shape: PyramidShape, itemsize: int) -> int:
    """Bytes a perfect kernel moves: every level and weight read once, the output written once."""
    h, w = shape.hw
    elems = shape.batch * shape.cout * h * w + shape.cout
    for c, lh, lw in shape.levels:
        elems += shape.batch * c * lh * lw + shape.cout * c
    return elems * itemsize
