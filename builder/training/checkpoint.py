"""Epoch checkpoints: what a run needs to go on after its process died (model, optimizer,
schedule, history, counters), as safetensors tensors plus string metadata. No pickle."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import torch

from builder.errors import BuilderError

MODEL, OPTIM = "model/", "optim/"


def pack_checkpoint(trainer, epoch: int) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """A copy of the trainer's state after `epoch` (taken in the training thread)."""
    tensors = {MODEL + k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
    optim = trainer.optimizer.state_dict()
    plain_state: dict[str, dict[str, Any]] = {}
    for pid, values in optim["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{OPTIM}{pid}/{name}"] = value.detach().clone()
            else:
                plain_state.setdefault(str(pid), {})[name] = value
    meta = {
        "epoch": str(epoch),
        "global_step": str(trainer.global_step),
        "samples_seen": str(trainer.samples_seen),
        "train_seconds": repr(trainer.train_seconds),
        "best_epoch": json.dumps(trainer.best_epoch),
        "history": json.dumps(trainer.history),
        "param_groups": json.dumps(optim["param_groups"]),
        "plain_state": json.dumps(plain_state),
    }
    if trainer.scheduler is not None:
        # A schedule whose state is not plain JSON restarts instead.
        with contextlib.suppress(TypeError, ValueError):
            meta["scheduler"] = json.dumps(trainer.scheduler.state_dict())
    return tensors, meta


def restore_checkpoint(trainer, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> int:
    """Put a checkpoint back into a freshly set-up trainer; returns the epoch to start from."""
    try:
        model = {k[len(MODEL) :]: v for k, v in tensors.items() if k.startswith(MODEL)}
        trainer.model.load_state_dict(model)
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith(OPTIM):
                pid, name = key[len(OPTIM) :].split("/", 1)
                state.setdefault(int(pid), {})[name] = value.to(trainer.device)
        for pid, values in json.loads(meta["plain_state"]).items():
            state.setdefault(int(pid), {}).update(values)
        groups = json.loads(meta["param_groups"])
        trainer.optimizer.load_state_dict({"state": state, "param_groups": groups})
        if trainer.scheduler is not None and "scheduler" in meta:
            trainer.scheduler.load_state_dict(json.loads(meta["scheduler"]))
        trainer.history = json.loads(meta["history"])
        trainer.best_epoch = json.loads(meta["best_epoch"])
        trainer.global_step = int(meta["global_step"])
        trainer.samples_seen = int(meta["samples_seen"])
        trainer.train_seconds = float(meta["train_seconds"])
        epoch = int(meta["epoch"])
    except (KeyError, ValueError, RuntimeError) as err:
        raise BuilderError(
            f"the run's checkpoint does not fit its graph ({type(err).__name__})",
            field="run",
            hint="Start a new run instead.",
        ) from None
    trainer.epochs_done = epoch
    return epoch + 1
