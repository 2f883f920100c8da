"""The trainer: a background thread that trains a compiled graph and publishes metric events.

Speed habits (DESIGN.md): the data lives on the training device, batches are slices of
a randperm, and the loss is only read back to the host every `log_every` steps (each
step's loss is written into a small device buffer, so a NaN is still pinned to its
exact step).
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from builder.augment import augment_batch
from builder.budget import check_trainer_memory, validation_batch_size
from builder.training.background import BackgroundRun, StopRequested, TrainingFault
from builder.training.checkpoint import pack_checkpoint, restore_checkpoint
from builder.training.config import TrainConfig, resolve_device
from builder.training.parts import (
    PICKED_OUTPUTS,
    ValidationPicks,
    all_finite,
    copy_state,
    correct_count,
    make_optimizer,
    make_scheduler,
    predicted_class,
)
from builder.training.report import TrainerReportMixin, Window
from builder.training.setup import TrainerSetupMixin
from builder.training.stats import LayerStatsMixin

# The recorder writes the newest checkpoint once a second (runs/recorder.FLUSH_S).
CHECKPOINT_EVERY_S = 1.0


class Trainer(TrainerSetupMixin, TrainerReportMixin, LayerStatsMixin, BackgroundRun):
    """Trains one model on one dataset in a background thread (start) or in place (run).

    Readers poll `events_since(cursor)`; the trainer never waits for them. The model and
    `best_state` stay usable after any fault.
    """

    thread_prefix = "trainer"

    def __init__(
        self,
        arch,
        dataset,
        config: TrainConfig | None = None,
        *,
        run_id=None,
        model=None,
        store=None,
        project: str | None = None,
        run_kind: str = "train",
        parent: str | None = None,
        extra: dict[str, Any] | None = None,
        note: str = "",
    ):
        self.arch = arch
        self.dataset = dataset
        self.config = config or TrainConfig()
        self.config.validate()
        record = {
            "kind": run_kind,
            "project": project,
            "parent": parent,
            "extra": extra,
            "note": note or None,
        }
        self._init_run(run_id, store=store, record=record)
        self.device = resolve_device(self.config.device)
        check_trainer_memory(arch, dataset, self.config, self.device)  # before any allocation
        torch.manual_seed(self.config.seed)
        if model is None:
            from builder.compile import compile_model

            model = compile_model(arch)
        self.model: nn.Module = model
        self.node_of_attr = self._node_names()
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_epoch: int | None = None
        self.layer_stats: dict[str, dict[str, float]] = {}
        self.first_layer_stats: dict[str, dict[str, float]] = {}  # anchors the live colour scale
        self.layer_stats_step: int | None = None
        self.history: dict[str, list[float]] = {
            "train_loss": [],
            "val_loss": [],
            "train_accuracy": [],
            "val_accuracy": [],
        }
        self.train_seconds = 0.0
        self.samples_seen = 0
        self.validation_picks: ValidationPicks | None = None  # the last validation's predictions
        self.resume_from: tuple[dict, dict] | None = None  # (tensors, metadata) to go on from

    # ---- the run ------------------------------------------------------------------------

    def _train(self) -> None:
        cfg = self.config
        if self.arch is not None:
            from builder.data import check_compatibility

            problem = check_compatibility(self.arch, self.dataset)
            if problem is not None:
                raise problem
        torch.manual_seed(cfg.seed)
        self.model.to(self.device)
        self._load_data()
        self.loss_fn, self.binary = self._make_loss()
        self.optimizer = make_optimizer(cfg, self._trainable_parameters())
        steps_per_epoch = math.ceil(self.dataset.n_train / cfg.batch_size)
        self.scheduler = make_scheduler(cfg, self.optimizer, steps_per_epoch)
        self.forward = self._make_forward()
        self._generator = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self._l1_params = [p for p in self._trainable_parameters() if p.dim() > 1]
        self._initial_state = copy_state(self.model)
        first = 1
        if self.resume_from is not None:
            first = restore_checkpoint(self, *self.resume_from)
            self._publish("status", state="running", message=f"resumed at epoch {first}")
        best_val = min(self.history["val_loss"], default=math.inf)
        stale = 0
        for epoch in range(first, cfg.epochs + 1):
            train_loss, train_acc = self._train_epoch(epoch)
            val_loss, val_acc = self._validate()
            self.epochs_done = epoch
            self._record_epoch(epoch, train_loss, train_acc, val_loss, val_acc)
            self._step_scheduler_after_epoch(val_loss)
            if val_loss < best_val:
                best_val, stale = val_loss, 0
                self.best_state, self.best_epoch = copy_state(self.model), epoch
            else:
                stale += 1
            if self.store is not None and self._checkpoint_due(epoch == cfg.epochs):
                checkpoint = pack_checkpoint(self, epoch)
                with self._lock:
                    self._checkpoint = checkpoint  # the recorder writes it, off this thread
            if cfg.early_stopping_patience and stale >= cfg.early_stopping_patience:
                self._restore_best()
                self._publish(
                    "status",
                    state="running",
                    message=f"early stopping: no val improvement for {stale} epochs; restored the weights of epoch {self.best_epoch}",
                    early_stopped=True,
                    best_epoch=self.best_epoch,
                )
                break

    def _recover(self) -> None:
        self._restore_best()

    def _train_epoch(self, epoch: int) -> tuple[float, float | None]:
        cfg = self.config
        model, opt, x_all, y_all = self.model, self.optimizer, self.x_train, self.y_train
        n, bs = self.dataset.n_train, cfg.batch_size
        noise = float(getattr(self.dataset, "input_noise", 0.0) or 0.0)
        augment = self.augment_config()
        classify = self.dataset.task == "classification"
        model.train()
        self.keep_frozen_norms_fixed()
        perm = torch.randperm(n, device=self.device, generator=self._generator)
        # float32 so it can be read together with the window losses in one transfer.
        self._epoch_correct = torch.zeros(1, device=self.device)
        self._epoch_loss_sum, self._correct_read = 0.0, 0
        window = Window(time.perf_counter())
        epoch_start = time.perf_counter()
        steps = math.ceil(n / bs)
        for step_in_epoch in range(steps):
            self._check_control()
            idx = perm[step_in_epoch * bs : (step_in_epoch + 1) * bs]
            x, y = x_all[idx], y_all[idx]
            if noise:
                x = x + noise * torch.randn_like(x)
            if augment.enabled:
                x = augment_batch(x, augment, self._generator)
            take_stats = cfg.stats_every and self.global_step % cfg.stats_every == 0
            hooks = self._add_activation_hooks() if take_stats else None
            out = self.forward(x)
            loss = self._compute_loss(out, y)
            if cfg.l1:
                loss = loss + cfg.l1 * sum(p.abs().sum() for p in self._l1_params)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_grad:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            before = self._weights_before_step() if take_stats else None
            opt.step()
            if self.scheduler is not None and cfg.schedule == "onecycle":
                self.scheduler.step()
            window.losses.append(loss.detach())  # no device op: stacked once per window
            if classify:
                self._epoch_correct += correct_count(out.detach(), y, self.binary)
            if take_stats:
                self._collect_stats(hooks, before)
            self.global_step += 1
            window.add(len(idx))
            if window.steps == cfg.log_every or step_in_epoch == steps - 1:
                self._publish_window(epoch, step_in_epoch, window)
                window = Window(time.perf_counter())
        self.train_seconds += time.perf_counter() - epoch_start
        self.samples_seen += n
        train_acc = self._correct_read / n if classify else None
        return self._epoch_loss_sum / n, train_acc

    def _checkpoint_due(self, last_epoch: bool) -> bool:
        """Pack a checkpoint at most once per recorder flush: the recorder writes only the
        newest, and packing (a copy of the model and optimizer, the history as JSON) after
        every few-millisecond epoch cost a small model 5% of its training time."""
        now = time.monotonic()
        if last_epoch or now - getattr(self, "_packed_at", -math.inf) >= CHECKPOINT_EVERY_S:
            self._packed_at = now
            return True
        return False

    @torch.no_grad()
    def _validate(self) -> tuple[float, float | None]:
        model = self.model
        model.eval()
        n = self.dataset.n_val
        total = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        classify = self.dataset.task == "classification"
        step = validation_batch_size(self.config.batch_size)
        picked, first = [], None
        for start in range(0, n, step):
            if self._stop_requested.is_set():
                raise StopRequested
            x, y = self.x_val[start : start + step], self.y_val[start : start + step]
            out = self.forward(x)
            total += self._compute_loss(out, y) * len(x)
            if classify:
                picked.append(predicted_class(out, self.binary))
                correct += (picked[-1] == y).sum()
                first = out[:PICKED_OUTPUTS] if first is None else first
        model.train()
        if picked:  # one assignment: the page reads it from another thread
            picks = ValidationPicks(self.epochs_done + 1, torch.cat(picked).cpu(), first.cpu())
            self.validation_picks = picks
        val_loss = float(total) / max(n, 1)
        if not math.isfinite(val_loss):
            raise TrainingFault(
                f"validation loss became NaN at epoch {self.epochs_done + 1}; lower the learning rate or add normalisation"
            )
        return val_loss, (int(correct) / max(n, 1) if classify else None)

    def _step_scheduler_after_epoch(self, val_loss: float) -> None:
        if self.scheduler is None or self.config.schedule == "onecycle":
            return
        if self.config.schedule == "plateau":
            self.scheduler.step(val_loss)
        else:
            self.scheduler.step()

    def _restore_best(self) -> None:
        """Put back the best validated weights, or the initial ones if the current are broken."""
        state = self.best_state
        if state is None and not all_finite(self.model):
            state = getattr(self, "_initial_state", None)
        if state is not None:
            self.model.load_state_dict(state)

    # ---- results ------------------------------------------------------------------------
