"""The trainer: a background thread that trains a compiled graph and publishes metric events.

Speed habits (DESIGN.md): the data lives on the training device, batches are slices of
a randperm, and the loss is only read back to the host every `log_every` steps (each
step's loss is written into a small device buffer, so a NaN is still pinned to its
exact step). Per-layer statistics are taken every `stats_every` steps with hooks that
exist only for that step.
"""

from __future__ import annotations

import copy
import math
import time
import traceback
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from torch import nn

from builder.augment import AugmentConfig, augment_batch
from builder.errors import BuilderError
from builder.runs import BackgroundRun, StopRequested

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "onecycle", "plateau")
LOSSES = ("auto", "cross_entropy", "bce", "mse", "l1", "huber")
DEVICES = ("auto", "cpu", "cuda", "mps")
STATES = ("idle", "running", "paused", "stopped", "finished", "failed")
# Activation types whose zero outputs count as "dead" units in the per-layer stats.
_RELU_LIKE = (nn.ReLU, nn.ReLU6)
VAL_BATCH = 1024


@dataclass
class TrainConfig:
    """Everything that shapes a training run; plain values so it round-trips through JSON."""

    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"  # one of OPTIMIZERS; "momentum" is SGD with momentum
    lr: float = 1e-3
    momentum: float = 0.9  # for momentum / nesterov / rmsprop
    weight_decay: float = 0.0  # L2, through the optimizer
    l1: float = 0.0  # L1 penalty on weights, added to the loss
    schedule: str = "none"  # one of SCHEDULES
    step_size: int = 10  # epochs between decays for schedule "step"
    gamma: float = 0.1  # decay factor for "step" and "plateau"
    loss: str = "auto"  # one of LOSSES; auto: cross-entropy / MSE by task
    clip_grad: float = 0.0  # max gradient norm; 0 = off
    early_stopping_patience: int = 0  # epochs without val improvement; 0 = off
    seed: int = 0
    device: str = "auto"  # auto = cuda > mps > cpu
    amp: bool = False  # bf16 autocast (CUDA only)
    compile: bool = False  # torch.compile the model
    stats_every: int = 0  # per-layer statistics every K steps; 0 = off
    log_every: int = 20  # steps between host reads of the loss (step events)
    # Image augmentation on the device, training batches only (see builder.augment).
    augment_shift: int = 0  # random shift by up to this many pixels
    augment_hflip: bool = False  # mirror left-right half of the time
    augment_noise: float = 0.0  # std of gaussian noise added to inputs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict, rejecting unknown keys and impossible values with a BuilderError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BuilderError(
                f"unknown training setting {unknown[0]!r}",
                field=unknown[0],
                hint=f"Known settings: {', '.join(sorted(known))}.",
            )
        config = cls(**data)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise a BuilderError naming the first setting that cannot work."""
        for name, allowed in (
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("loss", LOSSES),
            ("device", DEVICES),
        ):
            if getattr(self, name) not in allowed:
                raise BuilderError(
                    f"unknown {name} {getattr(self, name)!r}",
                    field=name,
                    hint=f"Choose one of: {', '.join(allowed)}.",
                )
        for name in ("epochs", "batch_size", "log_every", "step_size"):
            if int(getattr(self, name)) < 1:
                raise BuilderError(f"{name} must be at least 1", field=name)
        if not self.lr > 0 or not math.isfinite(self.lr):
            raise BuilderError("lr must be a positive number", field="lr", hint="Try 1e-3.")
        for name in ("weight_decay", "l1", "clip_grad", "momentum"):
            if getattr(self, name) < 0:
                raise BuilderError(f"{name} cannot be negative", field=name)
        for name in ("early_stopping_patience", "stats_every"):
            if getattr(self, name) < 0:
                raise BuilderError(f"{name} cannot be negative", field=name)


def resolve_device(name: str) -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an unavailable explicit choice is a BuilderError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BuilderError(
            "CUDA is not available on this machine", field="device", hint="Use device cpu or auto."
        )
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise BuilderError(
            "MPS is not available on this machine", field="device", hint="Use device cpu or auto."
        )
    return torch.device(name)


@dataclass
class _Window:
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


class TrainingFault(Exception):
    """A fault the trainer turns into a plain status message (NaN loss, out of memory)."""


class Trainer(BackgroundRun):
    """Trains one model on one dataset in a background thread (start) or in place (run).

    Readers poll `events_since(cursor)`; the trainer never waits for them. The model and
    `best_state` stay usable after any fault.
    """

    thread_prefix = "trainer"

    def __init__(
        self, arch, dataset, config: TrainConfig | None = None, *, run_id=None, model=None
    ):
        self.arch = arch
        self.dataset = dataset
        self.config = config or TrainConfig()
        self.config.validate()
        self._init_run(run_id)
        self.device = resolve_device(self.config.device)
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
        self.error_detail: str | None = None
        self.history: dict[str, list[float]] = {
            "train_loss": [],
            "val_loss": [],
            "train_accuracy": [],
            "val_accuracy": [],
        }
        self.train_seconds = 0.0
        self.samples_seen = 0

    # ---- the run ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Train to the end (or stop / fault) in this thread; returns summary()."""
        self._t0 = time.perf_counter()
        try:
            self._set_state("running", "training started", **self._run_facts())
            self._train()
            self._finish()
        except StopRequested:
            self._restore_best()
            self._set_state("stopped", f"stopped by the user after {self.epochs_done} epochs")
        except TrainingFault as fault:
            self._restore_best()
            self._set_state("failed", str(fault))
        except BuilderError as err:
            self._restore_best()
            self._set_state("failed", str(err))
        except torch.OutOfMemoryError:
            self._restore_best()
            half = max(1, self.config.batch_size // 2)
            self._set_state(
                "failed",
                f"ran out of memory at batch size {self.config.batch_size}; lower the batch size (try {half})",
            )
        except Exception as err:  # any other fault: plain message, model kept usable
            self._restore_best()
            # The traceback is kept for developers, never put in front of the user.
            self.error_detail = traceback.format_exc()
            self._set_state("failed", _plain_message(err))
        finally:
            self._release_memory()
        return self.summary()

    def _run_facts(self) -> dict[str, Any]:
        n = self.dataset.n_train
        return {
            "epochs": self.config.epochs,
            "steps_per_epoch": math.ceil(n / self.config.batch_size),
            "device": str(self.device),
            "task": self.dataset.task,
            "config": self.config.to_dict(),
        }

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
        self.optimizer = make_optimizer(cfg, self.model.parameters())
        steps_per_epoch = math.ceil(self.dataset.n_train / cfg.batch_size)
        self.scheduler = make_scheduler(cfg, self.optimizer, steps_per_epoch)
        self.forward = self._make_forward()
        self._generator = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self._l1_params = [p for n, p in self.model.named_parameters() if p.dim() > 1]
        self._initial_state = _copy_state(self.model)
        best_val = math.inf
        stale = 0
        for epoch in range(1, cfg.epochs + 1):
            train_loss, train_acc = self._train_epoch(epoch)
            val_loss, val_acc = self._validate()
            self.epochs_done = epoch
            self._record_epoch(epoch, train_loss, train_acc, val_loss, val_acc)
            self._step_scheduler_after_epoch(val_loss)
            if val_loss < best_val:
                best_val, stale = val_loss, 0
                self.best_state, self.best_epoch = _copy_state(self.model), epoch
            else:
                stale += 1
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

    def _finish(self) -> None:
        self._set_state(
            "finished",
            f"finished {self.epochs_done} epochs",
            best_epoch=self.best_epoch,
        )

    def _load_data(self) -> None:
        ds = self.dataset
        self.x_train = ds.x_train.to(self.device)
        self.y_train = ds.y_train.to(self.device)
        self.x_val = ds.x_val.to(self.device)
        self.y_val = ds.y_val.to(self.device)

    def _release_memory(self) -> None:
        # The data copies on the device are only needed while training.
        for name in ("x_train", "y_train", "x_val", "y_val"):
            self.__dict__.pop(name, None)

    def _make_loss(self):
        return make_loss(self.config.loss, self.dataset, self._output_width())

    def _output_width(self) -> int | None:
        with torch.no_grad():
            was_training = self.model.training
            self.model.eval()
            out = self.model(self.x_train[:2])
            self.model.train(was_training)
        if isinstance(out, tuple):
            raise BuilderError(
                f"the model returns {len(out)} outputs; training needs exactly one",
                hint="Join the branches or remove the extra outputs.",
            )
        return int(out.shape[-1]) if out.dim() > 1 else None

    def _make_forward(self):
        model = self.model
        if self.config.compile:
            model = self._compiled_or_eager()
        if self.config.amp and self.device.type == "cuda":

            def forward(x):
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    return model(x)

            return forward
        return model

    def _compiled_or_eager(self):
        """torch.compile the model, or say why not and train eagerly (no compiler, no Triton...)."""
        compiled = torch.compile(self.model)
        try:
            # Compilation happens on the first call; do it now, forward and backward.
            compiled(self.x_train[: self.config.batch_size]).float().sum().backward()
        except Exception as err:
            self.model.zero_grad(set_to_none=True)
            self._publish(
                "status",
                state="running",
                message=f"torch.compile is not available here ({type(err).__name__}); training without it",
            )
            return self.model
        self.model.zero_grad(set_to_none=True)
        return compiled

    def augment_config(self) -> AugmentConfig:
        cfg = self.config
        return AugmentConfig(cfg.augment_shift, cfg.augment_hflip, cfg.augment_noise)

    def _compute_loss(self, out, y):
        if self.binary:
            return self.loss_fn(out.reshape(-1).float(), y.float())
        return self.loss_fn(out.float(), y)

    def _train_epoch(self, epoch: int) -> tuple[float, float | None]:
        cfg = self.config
        model, opt, x_all, y_all = self.model, self.optimizer, self.x_train, self.y_train
        n, bs = self.dataset.n_train, cfg.batch_size
        noise = float(getattr(self.dataset, "input_noise", 0.0) or 0.0)
        augment = self.augment_config()
        classify = self.dataset.task == "classification"
        model.train()
        perm = torch.randperm(n, device=self.device, generator=self._generator)
        # float32 so it can be read together with the window losses in one transfer.
        self._epoch_correct = torch.zeros(1, device=self.device)
        self._epoch_loss_sum, self._correct_read = 0.0, 0
        window = _Window(time.perf_counter())
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
                self._epoch_correct += _correct(out.detach(), y, self.binary)
            if take_stats:
                self._collect_stats(hooks, before)
            self.global_step += 1
            window.add(len(idx))
            if window.steps == cfg.log_every or step_in_epoch == steps - 1:
                self._publish_window(epoch, step_in_epoch, window)
                window = _Window(time.perf_counter())
        self.train_seconds += time.perf_counter() - epoch_start
        self.samples_seen += n
        train_acc = self._correct_read / n if classify else None
        return self._epoch_loss_sum / n, train_acc

    def _publish_window(self, epoch: int, step_in_epoch: int, window: _Window) -> None:
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

    @torch.no_grad()
    def _validate(self) -> tuple[float, float | None]:
        model = self.model
        model.eval()
        n = self.dataset.n_val
        total = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        classify = self.dataset.task == "classification"
        for start in range(0, n, VAL_BATCH):
            if self._stop_requested.is_set():
                raise StopRequested
            x, y = self.x_val[start : start + VAL_BATCH], self.y_val[start : start + VAL_BATCH]
            out = self.forward(x)
            total += self._compute_loss(out, y) * len(x)
            if classify:
                correct += _correct(out, y, self.binary)
        model.train()
        val_loss = float(total) / max(n, 1)
        if not math.isfinite(val_loss):
            raise TrainingFault(
                f"validation loss became NaN at epoch {self.epochs_done + 1}; lower the learning rate or add normalisation"
            )
        return val_loss, (int(correct) / max(n, 1) if classify else None)

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
        if state is None and not _all_finite(self.model):
            state = getattr(self, "_initial_state", None)
        if state is not None:
            self.model.load_state_dict(state)

    # ---- per-layer statistics ---------------------------------------------------------

    def _node_names(self) -> dict[str, str]:
        """Top-level module attribute -> node id (identity when there is no graph)."""
        names = {}
        if self.arch is not None:
            try:
                from builder.codegen import attribute_names

                names = {attr: node for node, attr in attribute_names(self.arch).items()}
            except ImportError:
                names = {}
        for attr, _ in self.model.named_children():
            names.setdefault(attr, attr)
        return names

    def _add_activation_hooks(self):
        captured: dict[str, torch.Tensor] = {}
        handles = []
        for attr, module in self.model.named_children():

            def hook(mod, inputs, output, attr=attr):
                if isinstance(output, torch.Tensor) and output.is_floating_point():
                    out = output.detach().float()
                    values = [out.mean(), out.std() if out.numel() > 1 else out.new_zeros(())]
                    if isinstance(mod, _RELU_LIKE) and out.dim() > 1:
                        values.append((out <= 0).all(dim=0).float().mean())
                    captured[attr] = torch.stack(values)

            handles.append(module.register_forward_hook(hook))
        return handles, captured

    def _weights_before_step(self) -> dict[str, list[torch.Tensor]]:
        return {
            attr: [p.detach().clone() for p in module.parameters()]
            for attr, module in self.model.named_children()
            if any(True for _ in module.parameters())
        }

    def _collect_stats(self, hooks, before) -> None:
        handles, captured = hooks
        for handle in handles:
            handle.remove()
        names, rows = [], []
        for attr, module in self.model.named_children():
            params = list(module.parameters())
            row = []
            if params:
                grads = [p.grad for p in params if p.grad is not None]
                weight = torch.linalg.vector_norm(torch.stack([p.detach().norm() for p in params]))
                grad = (
                    torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
                    if grads
                    else weight.new_zeros(())
                )
                update = torch.linalg.vector_norm(
                    torch.stack(
                        [(p.detach() - b).norm() for p, b in zip(params, before[attr], strict=True)]
                    )
                )
                row += [grad, weight, update / (weight + 1e-12)]
            names.append((attr, bool(params), captured.get(attr)))
            rows.append(row)
        flat = [t.float() for row in rows for t in row]
        flat += [c for _, _, c in names if c is not None]
        values = torch.cat([t.reshape(-1) for t in flat]).tolist() if flat else []
        stats: dict[str, dict[str, float]] = {}
        pos = 0
        for attr, has_params, _ in names:
            if has_params:
                grad, weight, ratio = values[pos : pos + 3]
                pos += 3
                stats[self.node_of_attr.get(attr, attr)] = {
                    "grad_norm": grad,
                    "weight_norm": weight,
                    "update_ratio": ratio,
                }
        for attr, _, act in names:
            if act is None:
                continue
            entry = stats.setdefault(self.node_of_attr.get(attr, attr), {})
            entry["act_mean"], entry["act_std"] = values[pos], values[pos + 1]
            pos += 2
            if act.numel() == 3:
                entry["dead_fraction"] = values[pos]
                pos += 1
        self.layer_stats = stats
        self.layer_stats_step = self.global_step
        self.first_layer_stats = self.first_layer_stats or stats

    # ---- results ------------------------------------------------------------------------

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
        return out


# ---- building blocks, also used by the benchmark and the exported train.py -----------------


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """The optimizer named in config, with its lr, momentum and weight decay (L2)."""
    name, lr, wd = config.optimizer, config.lr, config.weight_decay
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    if name == "nesterov":
        return torch.optim.SGD(
            params, lr=lr, momentum=config.momentum or 0.9, nesterov=True, weight_decay=wd
        )
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    raise BuilderError(f"unknown optimizer {name!r}", field="optimizer")


def make_scheduler(config: TrainConfig, optimizer, steps_per_epoch: int):
    """The LR schedule: step and cosine advance per epoch, one-cycle per batch, plateau on val loss."""
    name = config.schedule
    if name == "none":
        return None
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, gamma=config.gamma)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch
        )
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=config.gamma, patience=max(1, config.early_stopping_patience // 2)
        )
    raise BuilderError(f"unknown schedule {name!r}", field="schedule")


def make_loss(name: str, dataset, output_width: int | None):
    """(loss module, binary) for the task; binary means one logit per sample with BCE."""
    task = dataset.task
    if name == "auto":
        if task == "classification":
            name = "bce" if output_width == 1 else "cross_entropy"
        else:
            name = "mse"
    if name in ("cross_entropy", "bce") and task != "classification":
        raise BuilderError(
            f"loss {name} needs class labels but {dataset.name} is a {task} set",
            field="loss",
            hint="Use mse, l1 or huber.",
        )
    if name == "cross_entropy":
        if output_width == 1:
            raise BuilderError(
                "cross-entropy needs one output per class but the model gives 1",
                field="loss",
                hint="Use loss bce for a single logit, or widen the last layer.",
            )
        return nn.CrossEntropyLoss(), False
    if name == "bce":
        if dataset.num_classes != 2 or output_width != 1:
            raise BuilderError(
                "BCE-with-logits needs 2 classes and a single output unit",
                field="loss",
                hint="Use cross_entropy, or set the last layer's out_features to 1.",
            )
        return nn.BCEWithLogitsLoss(), True
    if task == "classification":
        raise BuilderError(
            f"loss {name} is for regression, but {dataset.name} has class labels",
            field="loss",
            hint="Use cross_entropy.",
        )
    return {"mse": nn.MSELoss(), "l1": nn.L1Loss(), "huber": nn.HuberLoss()}[name], False


def _correct(out: torch.Tensor, y: torch.Tensor, binary: bool) -> torch.Tensor:
    if binary:
        return ((out.reshape(-1) > 0).long() == y).sum()
    return (out.argmax(dim=-1) == y).sum()


def _copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _all_finite(model: nn.Module) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


def _plain_message(err: Exception) -> str:
    """A one-line message for an unexpected exception; shape errors get a data hint."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, RuntimeError) and (
        "shape" in text or "size" in text or "mat1" in text or "dimension" in text
    ):
        return (
            f"the data does not fit the model: {text}. Check the Input shape against the dataset."
        )
    return f"training stopped by an error: {type(err).__name__}: {text}"


def copy_config(config: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy of config with some settings changed (validated)."""
    return TrainConfig.from_dict({**copy.deepcopy(config.to_dict()), **changes})
