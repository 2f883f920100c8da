"""Knowledge distillation: a student learns from true labels and a teacher's softened outputs.

loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, y)
(Hinton et al., 2015; T^2 keeps the soft term's gradients on the scale of the hard one).
The same loop with alpha = 0 trains the student alone, so the two curves differ only in
the teacher's part: same data order, epochs, optimizer and seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from builder.compress.measure import outputs_on
from builder.errors import BuilderError


@dataclass
class DistillConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    temperature: float = 4.0
    alpha: float = 0.7  # weight of the teacher's soft targets; 0 = the student alone
    seed: int = 0

    def validate(self) -> None:
        if not self.temperature > 0:
            raise BuilderError("temperature must be above 0", field="temperature", hint="Try 4.")
        if not 0.0 <= self.alpha <= 1.0:
            raise BuilderError("alpha must be between 0 and 1", field="alpha", hint="Try 0.7.")
        if self.epochs < 1:
            raise BuilderError("epochs must be at least 1", field="epochs")


@dataclass
class DistillRun:
    """The trained student and its per-epoch curves (DESIGN.md metric events)."""

    model: nn.Module
    events: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def curve(self, split: str, key: str = "accuracy") -> list[float]:
        return [e[key] for e in self.events if e["kind"] == "epoch" and e["split"] == split]


def check_teacher_fits(teacher: nn.Module, student: nn.Module, dataset) -> None:
    """Refuse a teacher whose output shape differs from the student's, naming both shapes."""
    if dataset.task != "classification":
        raise BuilderError(
            "distillation needs a classification dataset",
            field="dataset",
            hint="Softened outputs are class probabilities.",
        )
    x = dataset.x_val[:2].cpu()
    with torch.no_grad():
        teacher_shape = tuple(outputs_on(teacher.eval(), x).shape[1:])
        student_shape = tuple(outputs_on(student.eval(), x).shape[1:])
    if teacher_shape != student_shape:
        raise BuilderError(
            f"the teacher outputs {teacher_shape} per sample but the student outputs {student_shape}",
            field="student",
            hint="Give the student's last layer as many outputs as the teacher's (one per class).",
        )


def teacher_logits(teacher: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The teacher's outputs for every training sample, computed once (it never changes)."""
    return outputs_on(teacher.eval(), x)


def distillation_loss(student_out, teacher_out, y, temperature: float, alpha: float):
    hard = F.cross_entropy(student_out, y)
    if alpha == 0:
        return hard
    soft = F.kl_div(
        F.log_softmax(student_out / temperature, dim=1),
        F.log_softmax(teacher_out / temperature, dim=1),
        log_target=True,
        reduction="batchmean",
    )
    return alpha * temperature**2 * soft + (1 - alpha) * hard


def train_student(student: nn.Module, dataset, soft_targets, config: DistillConfig) -> DistillRun:
    """Train student on (x, y, soft_targets); soft_targets None with alpha 0 trains it alone."""
    config.validate()
    torch.manual_seed(config.seed)
    x, y = dataset.x_train.cpu(), dataset.y_train.cpu().long()
    optimizer = torch.optim.Adam(student.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    run = DistillRun(student)
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        student.train()
        order = torch.randperm(len(x), generator=generator)
        total = correct = 0
        loss_sum = torch.zeros(())
        for start in range(0, len(x), config.batch_size):
            index = order[start : start + config.batch_size]
            out = student(x[index])
            teacher_out = soft_targets[index] if soft_targets is not None else None
            loss = distillation_loss(
                out, teacher_out, y[index], config.temperature,
                config.alpha if teacher_out is not None else 0.0,
            )  # fmt: skip
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(index)
            correct += int((out.argmax(dim=1) == y[index]).sum())
            total += len(index)
        run.events.append(_epoch_event(epoch, "train", float(loss_sum) / total, correct / total))
        val_loss, val_acc = _evaluate(student, dataset)
        run.events.append(_epoch_event(epoch, "val", val_loss, val_acc))
    run.seconds = time.perf_counter() - started
    student.eval()
    return run


def _evaluate(model: nn.Module, dataset) -> tuple[float, float]:
    model.eval()
    out = outputs_on(model, dataset.x_val)
    y = dataset.y_val.cpu().long()
    loss = float(F.cross_entropy(out, y))
    return loss, float((out.argmax(dim=1) == y).float().mean())


def _epoch_event(epoch: int, split: str, loss: float, accuracy: float) -> dict[str, Any]:
    return {
        "kind": "epoch",
        "epoch": epoch,
        "split": split,
        "loss": loss if math.isfinite(loss) else None,
        "accuracy": accuracy,
        "time": time.time(),
    }


def distill(teacher, student_arch, dataset, config: DistillConfig) -> tuple[DistillRun, DistillRun]:
    """(distilled student, the same student trained alone): same init, data order and epochs."""
    from builder.compile import compile_model

    torch.manual_seed(config.seed)
    student = compile_model(student_arch)
    alone = compile_model(student_arch)
    alone.load_state_dict(student.state_dict())  # the very same starting weights
    check_teacher_fits(teacher, student, dataset)
    soft = teacher_logits(teacher, dataset.x_train)
    distilled = train_student(student, dataset, soft, config)
    baseline = train_student(alone, dataset, None, config)
    return distilled, baseline
