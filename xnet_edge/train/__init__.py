"""Training ×Net depth models: SILog, AdamW, warm-up + poly, augmentation, exact resume, DDP."""

from .augment import AugmentConfig, make_batch
from .losses import silog_loss, valid_depth_mask
from .scene_set import SceneSet, build_scene_set, parse_data_spec
from .schedule import WarmupPoly, warmup_poly_scheduler
from .state import CorruptStateError, load_training_state, read_training_state, save_training_state
from .trainer import TrainResult, TrainSettings, TrainingInterrupted, train, validate

__all__ = ["AugmentConfig", "CorruptStateError", "SceneSet", "TrainResult", "TrainSettings", "TrainingInterrupted",
           "WarmupPoly", "build_scene_set", "load_training_state", "make_batch", "parse_data_spec", "read_training_state",
           "save_training_state", "silog_loss", "train", "valid_depth_mask", "validate",
           "warmup_poly_scheduler"]
