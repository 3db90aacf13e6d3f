"""PyTorch backend: a model checkpoint (``.safetensors`` or the bundled ``demo``) run in PyTorch.

The only backend that imports torch, and only when it is created. On CUDA it
asks for the fused Triton bridge kernels when the model factory offers them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from .._deps import require
from ..bundled import demo_model_name, is_demo
from ..errors import UsageError
from ..preprocess import check_input_size
from .backend import Backend
from .runtime_options import check_device
from ..contract import OutputSemantics
from .spec import Preprocessing, TensorSpec
from .timing import HookList


def resolve_device(torch, device: Optional[str]) -> str:
    """"auto" -> "cuda" when available, else "cpu"; "cuda" without CUDA is a UsageError."""
    device = check_device(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("device 'cuda' requested but torch sees no CUDA GPU")
    return device


class TorchBackend(Backend):
    """Runs an xnet-edge model checkpoint in PyTorch.

    Args:
        checkpoint: a ``.safetensors`` checkpoint, ``"demo"`` or ``"demo:MODEL"``.
        device: "auto", "cpu", "cuda" or "cuda:N".
        fused: use the fused Triton bridge kernels (None: on CUDA only).

    Raises:
        MissingDependencyError: torch is not installed.
        CheckpointError / UsageError: from loading the checkpoint.
    """

    name = "torch"

    def __init__(self, checkpoint: str | Path, device: Optional[str] = "auto", fused: Optional[bool] = None):
        torch = require("torch")
        from ..models import create_model, read_checkpoint

        self._torch = torch
        self.device = resolve_device(torch, device)
        # Fused Triton bridges pay off on CUDA only; elsewhere they would run the same PyTorch ops.
        self.fused = self.device.startswith("cuda") if fused is None else bool(fused)
        if is_demo(checkpoint):
            name, source = demo_model_name(str(checkpoint)), "demo"
        else:
            config, _, _ = read_checkpoint(checkpoint)
            name, source = config.name, checkpoint
        self.path = str(checkpoint)
        self.model = create_model(name, checkpoint=source, fused=self.fused).to(self.device).eval()
        cfg = self.model.config
        channels = 1 if cfg.task == "depth" else cfg.num_classes
        out_name = "depth" if cfg.task == "depth" else "logits"
        self.inputs = [TensorSpec("image", (-1, 3, -1, -1), np.dtype(np.float32), True)]
        self.outputs = [TensorSpec(out_name, (-1, channels, -1, -1), np.dtype(np.float32), False)]

    def contract_parts(self) -> dict:
        """The checkpoint's input size, normalization, output meaning and config."""
        cfg = self.model.config.to_dict()
        pre = Preprocessing(tuple(cfg["input_size"]), tuple(cfg["mean"]), tuple(cfg["std"]),
                            multiple=int(self.model.output_stride))
        return {"preprocessing": pre.to_dict(), "output": OutputSemantics.from_config(cfg).to_dict(), "config": cfg}

    def check_input_size(self, height: int, width: int) -> None:
        check_input_size(height, width, self.model.output_stride)

    def run(self, batch: np.ndarray, hooks: HookList) -> np.ndarray:
        torch = self._torch
        cuda = self.device.startswith("cuda")
        timed = bool(hooks)
        with torch.inference_mode():
            t0 = time.perf_counter()
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
            if timed and cuda:
                torch.cuda.synchronize()
            t1 = time.perf_counter()
            y = self.model(x)
            if timed and cuda:
                torch.cuda.synchronize()
            t2 = time.perf_counter()
            out = y.float().cpu().numpy()
            t3 = time.perf_counter()
        if timed:
            if cuda:
                hooks.emit("h2d", t1 - t0)
                hooks.emit("d2h", t3 - t2)
            hooks.emit("compute", t2 - t1)
        return out

    def describe(self) -> dict:
        return {"backend": self.name, "torch": self._torch.__version__, "device": self.device,
                "fused": self.fused, "model": self.model.config.name, "file": self.path}

    def close(self) -> None:
        self.model = None
