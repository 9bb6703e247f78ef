"""pix2pix training: data from a few photos, the trainer, and whole jobs."""

from .callbacks import Progress, TrainerCallback, Validation
from .config import TrainConfig, parse_duration
from .job import TrainingData, TrainResult, run_training
from .trainer import Trainer, TrainOutcome

__all__ = [
    "Progress",
    "TrainConfig",
    "TrainOutcome",
    "TrainResult",
    "Trainer",
    "TrainerCallback",
    "TrainingData",
    "Validation",
    "parse_duration",
    "run_training",
]
