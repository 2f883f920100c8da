"""Training: settings, the background Trainer, its building blocks and per-layer statistics.

config.py      TrainConfig, resolve_device, copy_config
background.py  BackgroundRun: the run lifecycle state machine both trainers share
trainer.py     Trainer: the training loop, validation and metric events
stats.py       per-layer statistics for the live diagram
parts.py       optimizer, schedule and loss builders
"""

from builder.budget import VAL_BATCH
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
from builder.training.parts import (
    kl_terms,
    make_loss,
    make_optimizer,
    make_scheduler,
    primary_output,
)
from builder.training.trainer import Trainer

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
    "kl_terms",
    "make_loss",
    "make_optimizer",
    "make_scheduler",
    "primary_output",
    "resolve_device",
]
