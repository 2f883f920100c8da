"""Training: settings, the background Trainer, its building blocks and per-layer statistics.

config.py      TrainConfig, resolve_device, copy_config
background.py  BackgroundRun: the run lifecycle state machine both trainers share
trainer.py     Trainer: the training loop, validation and metric events
stats.py       per-layer statistics for the live diagram
parts.py       optimizer, schedule and loss builders
"""

from builder.training.background import BackgroundRun, StopRequested, TrainingFault
from builder.training.config import (
    DEVICES,
    LOSSES,
    OPTIMIZERS,
    SCHEDULES,
    STATES,
    TrainConfig,
    copy_config,
    resolve_device,
)
from builder.training.parts import make_loss, make_optimizer, make_scheduler
from builder.training.trainer import VAL_BATCH, Trainer

__all__ = [
    "DEVICES",
    "LOSSES",
    "OPTIMIZERS",
    "SCHEDULES",
    "STATES",
    "VAL_BATCH",
    "BackgroundRun",
    "StopRequested",
    "TrainConfig",
    "Trainer",
    "TrainingFault",
    "copy_config",
    "make_loss",
    "make_optimizer",
    "make_scheduler",
    "resolve_device",
]
