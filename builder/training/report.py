"""What the Trainer reports: step and epoch events, the summary, and its run-store record."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from builder.training.background import TrainingFault
from builder.training.parts import plain_message


@dataclass
class Window:
    """The steps between two host reads of the loss."""

    started: float
    losses: list = field(default_factory=list)  # each step's loss, still on the device
    steps: int = 0
    samples: int = 0
    last_size: int = 0

    def add(self, batch_size: int) -> None:
        self.steps += 1
        self.samples += batch_size
        self.last_size = batch_size


class TrainerReportMixin:
    """Expects the Trainer's history, counters, optimizer and `self._publish`."""

    def _run_facts(self) -> dict[str, Any]:
        n = self.dataset.n_train
        return {
            "epochs": self.config.epochs,
            "steps_per_epoch": math.ceil(n / self.config.batch_size),
            "device": str(self.device),
            "task": self.dataset.task,
            "config": self.config.to_dict(),
        }

    def _finished_extra(self) -> dict[str, Any]:
        return {"best_epoch": self.best_epoch}

    def _plain_message(self, err: BaseException) -> str:
        return plain_message(err)

    def _record_fields(self) -> dict[str, Any]:
        """What the run store keeps besides events: graph snapshot, config, dataset, source."""
        fields_: dict[str, Any] = {
            "config": self.config.to_dict(),
            "dataset": getattr(self.dataset, "name", None),
        }
        if self.arch is not None:
            from builder.codegen import generate_source

            fields_["graph"] = self.arch.to_json()
            fields_["source"] = generate_source(self.arch)
        return fields_

    def _weights(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def _publish_window(self, epoch: int, step_in_epoch: int, window: Window) -> None:
        # The one host sync per window: every step's loss (to pin a NaN to its step) and
        # the epoch's running count of correct answers, in a single transfer.
        read = torch.cat([torch.stack(window.losses).float(), self._epoch_correct]).tolist()
        losses, correct = read[:-1], round(read[-1])
        first_step = step_in_epoch - window.steps + 2  # 1-based step within the epoch
        for offset, value in enumerate(losses):
            if not math.isfinite(value):
                what = "NaN" if math.isnan(value) else "infinite"
                raise TrainingFault(
                    f"loss became {what} at epoch {epoch} step {first_step + offset}; lower the learning rate or add normalisation"
                )
        # Every batch but an epoch's last is full, and the last closes its window.
        sizes = [self.config.batch_size] * (window.steps - 1) + [window.last_size]
        self._epoch_loss_sum += sum(loss * size for loss, size in zip(losses, sizes, strict=True))
        seconds = max(time.perf_counter() - window.started, 1e-9)
        fields_: dict[str, Any] = {
            "split": "train",
            "loss": sum(losses) / window.steps,
            "lr": self.optimizer.param_groups[0]["lr"],
            "samples_per_s": window.samples / seconds,
            "epoch_step": step_in_epoch + 1,
        }
        if self.dataset.task == "classification":
            fields_["accuracy"] = (correct - self._correct_read) / window.samples
            self._correct_read = correct
        self._publish("step", epoch=epoch, **fields_)

    def _record_epoch(self, epoch, train_loss, train_acc, val_loss, val_acc) -> None:
        lr = self.optimizer.param_groups[0]["lr"]
        speed = self.samples_seen / max(self.train_seconds, 1e-9)
        self.history["train_loss"].append(train_loss)
        self.history["val_loss"].append(val_loss)
        for split, loss, acc in (("train", train_loss, train_acc), ("val", val_loss, val_acc)):
            fields_ = {"split": split, "loss": loss, "lr": lr, "samples_per_s": speed}
            if acc is not None:
                fields_["accuracy"] = acc
                self.history[f"{split}_accuracy"].append(acc)
            self._publish("epoch", epoch=epoch, **fields_)

    def summary(self) -> dict[str, Any]:
        """The CLI's final JSON line: epochs, losses, accuracy, speed, device, state."""
        h = self.history
        out: dict[str, Any] = {
            "run": self.run_id,
            "state": self.state,
            "epochs": self.epochs_done,
            "train_loss": h["train_loss"][-1] if h["train_loss"] else None,
            "val_loss": h["val_loss"][-1] if h["val_loss"] else None,
            "best_epoch": self.best_epoch,
            "best_val_loss": min(h["val_loss"]) if h["val_loss"] else None,
            "samples_per_s": self.samples_seen / self.train_seconds if self.train_seconds else 0.0,
            "train_seconds": self.train_seconds,
            "device": str(self.device),
            "task": self.dataset.task,
        }
        if self.dataset.task == "classification":
            out["train_accuracy"] = h["train_accuracy"][-1] if h["train_accuracy"] else None
            out["val_accuracy"] = h["val_accuracy"][-1] if h["val_accuracy"] else None
            out["best_val_accuracy"] = max(h["val_accuracy"]) if h["val_accuracy"] else None
        else:
            out["target_variance"] = float(self.dataset.y_val.float().var())
        if self.state == "failed" or self.state == "stopped":
            out["message"] = self.message
        report = getattr(self, "warm_start", None)
        if report is not None:
            out["warm_start"] = {"loaded": len(report.loaded), "skipped": report.skipped}
        if self.frozen_nodes():
            out["frozen"] = self.frozen_nodes()
        return out
