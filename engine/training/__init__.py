"""pix2pix training: data from a few photos, the trainer, and whole jobs."""

from .callbacks import Progress, TrainerCallback, Validation
from .config import TrainConfig, TrainDefaults, make_train_config, parse_duration
from .job import TrainingData, TrainResult, run_training
from .trainer import Trainer, TrainOutcome

__all__ = [
    "Progress",
    "TrainConfig",
    "TrainDefaults",
    "TrainOutcome",
    "TrainResult",
    "Trainer",
    "TrainerCallback",
    "TrainingData",
    "Validation",
    "make_train_config",
    "parse_duration",
    "run_training",
]
