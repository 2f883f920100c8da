"""Building blocks of a training step, also used by the benchmark and the exported train.py."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from builder.errors import BuilderError
from builder.training.config import TrainConfig


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
    if name == "adadelta":  # mnist/main.py's choice, there with lr 1.0
        return torch.optim.Adadelta(params, lr=lr, weight_decay=wd)
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


def predicted_class(out: torch.Tensor, binary: bool) -> torch.Tensor:
    return (out.reshape(-1) > 0).long() if binary else out.argmax(dim=-1)


def correct_count(out: torch.Tensor, y: torch.Tensor, binary: bool) -> torch.Tensor:
    return (predicted_class(out, binary) == y).sum()


@dataclass(frozen=True)
class ValidationPicks:
    """What the last validation pass predicted, kept for the live view, which then needs
    no model run of its own (that run took a tenth of the training time on 2 cores)."""

    epoch: int
    predicted: torch.Tensor  # one class per validation sample, on the CPU
    first_outputs: torch.Tensor  # the raw outputs of the first samples, on the CPU


PICKED_OUTPUTS = 12  # the sample predictions the dashboard shows


def copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def all_finite(model: nn.Module) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


def plain_message(err: Exception) -> str:
    """A one-line message for an unexpected exception; shape errors get a data hint."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, RuntimeError) and (
        "shape" in text or "size" in text or "mat1" in text or "dimension" in text
    ):
        return (
            f"the data does not fit the model: {text}. Check the Input shape against the dataset."
        )
    return f"training stopped by an error: {type(err).__name__}: {text}"


def primary_output(out):
    """The output training compares with the targets: the first where a model returns several
    (the first Output node, e.g. a VAE's reconstruction before its mu and logvar)."""
    return out[0] if isinstance(out, tuple | list) else out


def kl_terms(model: nn.Module) -> list[torch.Tensor]:
    """The KL terms the last forward pass left on the model (a Reparameterize node writes
    `self.<node>_kl`), each averaged over the batch."""
    return [
        value
        for name, value in vars(model).items()
        if name.endswith("_kl") and isinstance(value, torch.Tensor)
    ]
