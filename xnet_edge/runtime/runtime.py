"""``Runtime``: one ``predict(image) -> depth`` call over TensorRT, ONNX Runtime or PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import UsageError, XnetEdgeError
from ..preprocess import Letterbox, postprocess, resize_bilinear
from .artifact import Artifact, choose_backend, resolve_artifact, verify_artifact, warn_all
from .backend import Backend
from .runtime_options import RuntimeOptions
from ..contract import Contract, Preprocessing, TensorSpec, check_output_shape, contract_from_parts
from .timing import HookList, TimingHook, maybe_hooks


def cuda_index(device: Optional[str]) -> int:
    """The CUDA device index of "cuda:N" (0 for "auto", "cuda" or None).

    Raises:
        UsageError: "cpu" or an unparsable device for a GPU-only backend.
    """
    text = str(device or "auto")
    if text in ("auto", "cuda"):
        return 0
    if text.startswith("cuda:") and text[5:].isdigit():
        return int(text[5:])
    raise UsageError(f"the TensorRT backend runs on a GPU: device must be auto, cuda or cuda:N, not {text!r}")


def _open_backend(artifact: Artifact, name: str, options: RuntimeOptions) -> Backend:
    """The backend ``name`` on ``artifact``: the user's options first, then the manifest's settings."""
    runtime = (artifact.manifest or {}).get("runtime") or {}
    if name == "onnxruntime":
        from .backend_ort import OnnxRuntimeBackend

        settings = runtime.get("onnxruntime") or {}
        providers, threads = options.providers, options.threads
        return OnnxRuntimeBackend(
            artifact.file,
            providers=providers if providers is not None else settings.get("providers"),
            threads=threads if threads is not None else settings.get("intra_op_num_threads"),
            graph_optimization_level=options.graph_optimization_level or settings.get("graph_optimization_level"),
            # Providers recorded by the builder may not exist here; the user's own must.
            strict_providers=providers is not None)
    if name == "tensorrt":
        from .backend_trt import TensorRTBackend

        settings = runtime.get("tensorrt") or {}
        return TensorRTBackend(artifact.file, cuda_graph=options.cuda_graph, dla_core=settings.get("dla_core"),
                               cuda_api=options.cuda_api, device=cuda_index(options.device),
                               memory=options.cuda_memory)
    from .backend_torch import TorchBackend

    return TorchBackend(artifact.file, device=options.device, fused=options.fused)


class Runtime:
    """Depth inference on one model artifact, with the project's pre/post-processing.

    ``Runtime(path)`` accepts:

    * an engine folder written by ``xnet-edge build`` (its ``manifest.json`` is read, the
      engine's hash checked, and an engine built for another TensorRT/GPU refused with the
      command that rebuilds it);
    * a bare ``.onnx`` (preprocessing from its ``xnet_edge.preprocessing`` metadata);
    * a ``.plan`` / ``.engine`` (checked against a ``manifest.json`` beside it when present;
      otherwise pass ``preprocessing=``);
    * a ``.safetensors`` model checkpoint, ``"demo"`` or ``"demo:MODEL"`` (PyTorch).

    Args:
        path: the artifact.
        options: a :class:`~.options.RuntimeOptions` (backend, providers, threads, device, input
            size, preprocessing, checks, timing hooks, ...); None: the defaults.
        **option_values: :class:`~.options.RuntimeOptions` fields by name, applied over ``options``:
            ``Runtime(path, threads=2)`` is ``Runtime(path, RuntimeOptions(threads=2))``; an unknown
            name is a usage error.

    Raises:
        UsageError: unknown path type or option.
        HashMismatchError / EngineCompatibilityError: the manifest checks failed.
        MissingDependencyError: the backend's library is not installed.

    Example::

        with Runtime("engines/orin-nano-int8") as rt:
            depth = rt.predict(rgb)          # HxW float32 metres, same size as rgb
    """

    def __init__(self, path: str | Path, options: Optional[RuntimeOptions] = None, **option_values: Any):
        options = RuntimeOptions.merged(options, option_values, "Runtime")
        #: the options this runtime was opened with
        self.options = options
        self.artifact = resolve_artifact(path)
        self.backend_name = choose_backend(self.artifact, options.backend)
        self.warnings = verify_artifact(self.artifact, options.machine) if options.check else []
        warn_all(self.warnings)
        self.hooks: HookList = maybe_hooks(options.timing)
        self.backend: Optional[Backend] = _open_backend(self.artifact, self.backend_name, options)
        try:
            self.contract = self._read_contract(options.preprocessing)
            self.preprocessing = self._resolve_preprocessing(options.input_size)
        except BaseException:
            self.close()
            raise
        #: the model's ×Net config as a dict ({} for adopted models)
        self.model_config = self.contract.config
        #: "depth" or "segmentation"
        self.task = self.contract.task
        self._output_checked = not self.contract.primary_output.is_dynamic  # checked on open when static

    # ------------------------------------------------------------------ set-up

    @property
    def manifest(self) -> Optional[dict]:
        """The engine folder's manifest, or None."""
        return self.artifact.manifest

    def _read_contract(self, override) -> Contract:
        if self.manifest is not None:
            where = f"{self.artifact.folder} manifest"
            parts = {"preprocessing": self.manifest.get("preprocessing"), "config": self.manifest.get("model"),
                     "output": self.manifest.get("output")}
        else:
            where, parts = str(self.artifact.file), dict(self.backend.contract_parts())
        if override is not None:  # checked by RuntimeOptions
            where, parts["preprocessing"] = f"{where} with preprocessing=", override
        backend = self.backend
        return contract_from_parts(where, [backend.input], [backend.output, *(o for o in backend.outputs
                                                                            if o is not backend.output)], **parts)

    def _resolve_preprocessing(self, input_size) -> Preprocessing:
        pre = self.contract.require_preprocessing()
        fixed = self.backend.network_size()
        if fixed is not None:
            if input_size is not None and tuple(input_size) != fixed:
                raise UsageError(f"this model's input is fixed at {fixed[0]}x{fixed[1]}; export or build it "
                                 f"for {input_size[0]}x{input_size[1]} instead")
            pre = pre.with_input_size(fixed)
        else:
            pre = pre.with_input_size(input_size)
        self.backend.check_input_size(*pre.input_size)
        return pre

    def set_input_size(self, input_size: Sequence[int]) -> None:
        """Run at another network (H, W) from now on, without opening the model again.

        For models with a dynamic input size (ONNX Runtime and PyTorch take any size the
        model's multiple allows; a TensorRT engine any size inside its profile).

        Args:
            input_size: the new (H, W).

        Raises:
            UsageError: the model's input is fixed at another size, or the size breaks the
                model's size multiple or the engine's profile.
        """
        self.preprocessing = self._resolve_preprocessing(tuple(int(v) for v in input_size))

    # ------------------------------------------------------------------ properties

    @property
    def input_size(self) -> tuple[int, int]:
        """The network input (H, W)."""
        return self.preprocessing.input_size

    @property
    def max_depth(self) -> Optional[float]:
        """The model's depth range in metres when known."""
        return self.contract.max_depth

    @property
    def output_kind(self) -> str:
        """What the output means: ``metric-depth``, ``relative-depth``, ``inverse-depth``, ``disparity``
        or ``segmentation`` (:data:`xnet_edge.contract.OUTPUT_KINDS`)."""
        return self.contract.output_kind

    @property
    def num_classes(self) -> Optional[int]:
        """Classes of a segmentation model (None otherwise or when unknown)."""
        return self.contract.num_classes

    def describe(self) -> dict:
        """Artifact, backend settings, input size and preprocessing, for reports."""
        info = self._live().describe()
        info.update({"artifact": str(self.artifact.file), "artifact_kind": self.artifact.kind,
                     "input_size": list(self.input_size), "preprocessing": self.preprocessing.to_dict(),
                     "task": self.task, "output_kind": self.output_kind})
        if self.manifest is not None:
            info.update({"target": self.manifest["target"].get("name"), "precision": self.manifest["precision"]})
        return info

    def add_timing_hook(self, hook: TimingHook) -> None:
        """Report per-stage timings to ``hook(stage, seconds)`` from now on."""
        self.hooks.add(hook)

    def remove_timing_hook(self, hook: TimingHook) -> None:
        """Stop reporting to ``hook``."""
        self.hooks.remove(hook)

    # ------------------------------------------------------------------ stages

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Image (any size, gray/RGB/RGBA, 8/16-bit) -> ((1, 3, H, W) float32, letterbox). Thread-safe."""
        with self.hooks.measure("preprocess"):
            return self.preprocessing.apply(image)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Run preprocessed inputs (N, 3, H, W) through the network, in batches the model accepts.

        Returns:
            (N, C, H, W) float32 network outputs.
        """
        backend = self._live()
        batch = np.asarray(batch, dtype=np.float32)
        expected = (3, *self.input_size)
        if batch.ndim != 4 or tuple(batch.shape[1:]) != expected:
            raise UsageError(f"expected a (N, {expected[0]}, {expected[1]}, {expected[2]}) batch, got {batch.shape}")
        smallest, largest = backend.batch_range()
        step = largest or len(batch)
        outputs = []
        for start in range(0, len(batch), max(step, 1)):
            chunk = batch[start:start + step]
            count = len(chunk)
            if count < smallest:  # fixed-batch engines: pad with zeros, drop the extra outputs
                pad = np.zeros((smallest - count, *chunk.shape[1:]), dtype=chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            out = backend.run(chunk, self.hooks)[:count]
            if not self._output_checked:  # a dynamic output shape is checked against its kind once
                check_output_shape(TensorSpec(backend.output.name, out.shape), self.contract.output,
                                   self.contract.where)
                self._output_checked = True
            outputs.append(out[:, None] if out.ndim == 3 else out)  # (N, H, W) depth -> (N, 1, H, W)
        return np.concatenate(outputs) if len(outputs) > 1 else outputs[0]

    def postprocess(self, output: np.ndarray, box: Letterbox) -> np.ndarray:
        """One network output (C, H, W) -> result at the image's size.

        The padding is cropped off before resizing, so padded pixels never leak into the
        result; non-finite or negative depths (invalid) become 0, the ROS/RealSense
        "no depth" value.

        Returns:
            float32 (H, W) depth in metres, or int32 (H, W) class labels for segmentation.
        """
        with self.hooks.measure("postprocess"):
            out = np.asarray(output, dtype=np.float32)
            if out.ndim == 2:
                out = out[None]
            if tuple(out.shape[-2:]) != tuple(box.network):  # outputs at a fraction of the input size
                out = np.stack([resize_bilinear(channel, box.network) for channel in out])
            if self.task == "segmentation":
                scores = np.stack([postprocess(channel, box) for channel in out])
                return scores.argmax(0).astype(np.int32)
            depth = postprocess(out.reshape(box.network), box)
            invalid = ~np.isfinite(depth)
            if self.output_kind == "metric-depth":  # relative kinds keep their sign: only the fit gives metres
                invalid |= depth < 0
            depth[invalid] = 0.0
            return depth

    # ------------------------------------------------------------------ one call

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Depth for one image.

        Args:
            image: HxWx3 uint8 RGB (also HxW gray, HxWx4 RGBA, uint16 or float), any size.

        Returns:
            float32 (H, W) metres at the image's size (int32 labels for segmentation models).

        Raises:
            UsageError: empty image or unsupported channels/dtype.
        """
        tensor, box = self.preprocess(image)
        return self.postprocess(self.infer(tensor)[0], box)

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Depth for several images of any sizes, batched as far as the model allows."""
        if len(images) == 0:
            return []
        prepared = [self.preprocess(image) for image in images]
        outputs = self.infer(np.concatenate([tensor for tensor, _ in prepared]))
        return [self.postprocess(out, box) for out, (_, box) in zip(outputs, prepared)]

    # ------------------------------------------------------------------ lifecycle

    def _live(self) -> Backend:
        if self.backend is None:
            raise XnetEdgeError("this Runtime is closed")
        return self.backend

    @property
    def closed(self) -> bool:
        return self.backend is None

    def close(self) -> None:
        """Release the backend (GPU buffers, sessions). Safe to call twice."""
        backend, self.backend = self.backend, None
        if backend is not None:
            backend.close()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.backend_name
        return f"Runtime({str(self.artifact.file)!r}, {state}, input_size={self.input_size})"
