"""``xnet-edge adopt``: give an ONNX model from elsewhere the xnet-edge contract (a checked copy)."""

from __future__ import annotations

import argparse

from ..preprocess import size_arg


def _triple(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers R,G,B, got {text!r}")
    return values


def register(sub) -> None:
    from ..adopt import IMAGENET_MEAN, IMAGENET_STD
    from ..contract import CHANNEL_ORDERS, OUTPUT_KINDS

    p = sub.add_parser(
        "adopt", help="give an ONNX model from elsewhere the xnet-edge contract, so every command takes it",
        description="Check MODEL.onnx (one image input, one dense output) on ONNX Runtime with a real photo and "
                    "write a copy whose input is 'image', whose output is 'depth' (or 'logits') and whose "
                    "metadata holds what export writes: preprocessing, output kind and range. "
                    "Weights and nodes are untouched.")
    p.add_argument("onnx", metavar="MODEL.onnx", help="the model to adopt")
    p.add_argument("-o", dest="dest", required=True, metavar="ADOPTED.onnx", help="the copy to write")
    p.add_argument("--output-kind", required=True, choices=OUTPUT_KINDS, help="what the output means")
    p.add_argument("--mean", type=_triple, default=IMAGENET_MEAN, metavar="R,G,B",
                   help="normalization mean in 0..1 units (default ImageNet's)")
    p.add_argument("--std", type=_triple, default=IMAGENET_STD, metavar="R,G,B",
                   help="normalization std in 0..1 units (default ImageNet's)")
    p.add_argument("--input-size", type=size_arg, metavar="HxW",
                   help="network input (required when the model's size is dynamic)")
    p.add_argument("--multiple", type=int, metavar="N",
                   help="H and W must be multiples of N (14 for ViT patch models, 32 for most CNNs)")
    p.add_argument("--input", dest="input_name", metavar="NAME", help="the image input (checked)")
    p.add_argument("--output", dest="output_name", metavar="NAME",
                   help="the output to keep when the model has several (-o names the file)")
    p.add_argument("--scale", type=float, choices=(1.0, 255.0), default=1.0,
                   help="1: the network takes 0..1 values; 255: 0..255 (mean/std apply after scaling to 0..1)")
    p.add_argument("--channels", choices=CHANNEL_ORDERS, default="rgb", help="channel order the network takes")
    p.add_argument("--max-depth", type=float, metavar="M", help="range in metres of a metric-depth model")
    p.add_argument("--num-classes", type=int, metavar="K", help="classes (default: the output's channels)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..adopt import adopt_onnx

    result = adopt_onnx(args.onnx, args.dest, output_kind=args.output_kind, mean=args.mean, std=args.std,
                        input_size=args.input_size, multiple=args.multiple, input_name=args.input_name,
                        output_name=args.output_name, scale=args.scale, channels=args.channels,
                        max_depth=args.max_depth, num_classes=args.num_classes)
    pre, out = result.preprocessing, result.output
    h, w = pre.input_size
    extra = f", {out.num_classes} classes" if out.num_classes else (
        f", up to {out.max_depth:g} m" if out.max_depth else "")
    print(f"wrote {result.path}: input {result.input_name!r} -> 'image' {h}x{w} "
          f"(scale {pre.scale:g}, {pre.channels}, mean {list(pre.mean)}, std {list(pre.std)}"
          f"{f', multiple {pre.multiple}' if pre.multiple else ''}), output {result.output_name!r} -> "
          f"{out.kind}{extra}")
    lo, hi = result.value_range
    print(f"checked on ONNX Runtime with a real photo: output {list(result.output_shape)}, values {lo:.4g}..{hi:.4g}"
          + (f"; dropped outputs: {', '.join(result.dropped_outputs)}" if result.dropped_outputs else ""))
    return 0
