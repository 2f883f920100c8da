"""One compression from start to end: read, compress, fine-tune, measure, write the bundle."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from builder.compress import measure, output, prune, quantize
from builder.compress.source import Trained
from builder.data.embedded import check_fraction
from builder.errors import BuilderError
from builder.graph import Architecture

METHODS = ("prune", "quantize", "distill")


@dataclass
class CompressRequest:
    """What to do. method: prune (sparsity, structured) | quantize (dynamic|static) | distill."""

    method: str
    sparsity: float = 0.5
    structured: bool = False
    quantization: str = "dynamic"
    teacher: Trained | None = None  # distill: defaults to the trained model itself
    student: Architecture | None = None
    temperature: float = 4.0
    alpha: float = 0.7
    epochs: int = 10  # distillation epochs
    finetune_epochs: int = 0
    seed: int = 0
    # A share of the training split to learn from (validation keeps all of it): a teacher's
    # soft targets help a student most when labelled data is scarce. None: all of it.
    train_fraction: float | None = None

    def validate(self) -> None:
        if self.method not in METHODS:
            raise BuilderError(
                f"unknown compression method {self.method!r}",
                field="method",
                hint=f"Choose one of: {', '.join(METHODS)}.",
            )
        if self.method == "prune":
            prune.check_amount(self.sparsity, "prune")
        if self.finetune_epochs < 0:
            raise BuilderError("finetune epochs cannot be negative", field="finetune_epochs")
        if self.method == "quantize" and self.finetune_epochs:
            raise BuilderError(
                "quantization here is post-training: it has no fine-tune epochs",
                field="finetune_epochs",
                hint="Leave --finetune-epochs out, or prune first and quantize the pruned bundle.",
            )
        if self.method == "distill" and self.student is None:
            raise BuilderError("distillation needs a student graph", field="student")
        if self.train_fraction is not None:
            check_fraction(self.train_fraction)


@dataclass
class CompressResult:
    """The compressed model, its graph and the comparison with the original."""

    report: dict[str, Any]
    arch: Architecture
    model: nn.Module
    files: list[Path] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # fine-tune / student curves
    baseline_events: list[dict[str, Any]] = field(default_factory=list)  # distill: student alone
    quantized: bool = False  # saved as TorchScript (int8 modules have no plain state_dict)


def compress_model(
    trained: Trained, dataset, request: CompressRequest, out_dir, *, store=None, project=None
) -> CompressResult:
    """Run the request on a trained model, write the bundle to out_dir, return the comparison.

    With a run store, the result is also recorded as a run (report["run"] is its id).
    `dataset` is what the training parts learn from: for request.train_fraction, load it
    with `dataset_for(name, settings, request.train_fraction)`.
    """
    request.validate()
    torch.manual_seed(request.seed)
    original = trained.model.cpu().eval()
    batch = measure.latency_batch(dataset)
    metric_name, metric_before = measure.val_metric(original, dataset)
    before = {
        "params_before": measure.nonzero_params(original),
        "bytes_before": len(_float_weights(trained.arch, original)),
        "latency_ms_before": measure.cpu_latency_ms(original, batch),
        "metric_before": metric_before,
    }
    if request.method == "prune":
        result = _prune(trained, dataset, request)
    elif request.method == "quantize":
        result = _quantize(trained, dataset, request)
    else:
        result = _distill(trained, dataset, request)
    result.files = output.write(result, trained, dataset, out_dir)
    after_file = next(p for p in result.files if p.name in output.MODEL_FILES)
    compressed = result.model.eval()
    _, metric_after = measure.val_metric(compressed, dataset)
    report = {
        "method": _method_name(request),
        **before,
        "params_after": result.report.pop("params_after", None)
        or measure.nonzero_params(compressed),
        "bytes_after": after_file.stat().st_size,
        "latency_ms_before": before["latency_ms_before"],
        "latency_ms_after": measure.cpu_latency_ms(compressed, batch),
        "metric": metric_name,
        "metric_before": metric_before,
        "metric_after": metric_after,
        **result.report,
        "out": str(out_dir),
    }
    result.report = report
    if store is not None:
        from builder.compress.record import record_result

        report["run"] = record_result(store, result, request, trained, dataset.name, project)
    output.write_report(result, out_dir)
    return result


def _method_name(request: CompressRequest) -> str:
    if request.method == "prune":
        kind = "structured" if request.structured else "global"
        return f"prune {kind} {request.sparsity:g}"
    if request.method == "quantize":
        return f"quantize {request.quantization} int8"
    share = f" on {100 * request.train_fraction:.3g}% of the data" if request.train_fraction else ""
    return f"distill T={request.temperature:g} alpha={request.alpha:g}{share}"


def _float_weights(arch, model) -> bytes:
    from builder.export import weights_bytes

    return weights_bytes(model, arch)


def _prune(trained: Trained, dataset, request: CompressRequest) -> CompressResult:
    model = copy.deepcopy(trained.model).cpu()
    arch = trained.arch
    if request.structured:
        example = tuple(t.cpu() for t in (dataset.x_val[:2],))
        arch, model = prune.prune_channels(arch, model, request.sparsity, example)
        targets = []
    else:
        targets = prune.prune_global(model, request.sparsity)
    events = _finetune(arch, model, dataset, trained.settings, request)
    prune.make_permanent(targets)
    report = {"sparsity": prune.weight_sparsity(model), "finetune_epochs": request.finetune_epochs}
    return CompressResult(report, arch, model.cpu().eval(), events=events)


def _finetune(arch, model, dataset, settings: dict, request: CompressRequest) -> list[dict]:
    """A few epochs with the trainer (pruning masks stay on, so zeros stay zero)."""
    if not request.finetune_epochs:
        return []
    from builder.training import TrainConfig, Trainer

    config = TrainConfig(
        epochs=request.finetune_epochs,
        batch_size=int(settings.get("batch_size", 64)),
        lr=float(settings.get("lr", 1e-3)),
        seed=request.seed,
        device="cpu",
    )
    trainer = Trainer(arch, dataset, config, model=model)
    trainer.run()
    if trainer.state != "finished":
        events, _ = trainer.events_since(0)
        message = next((e.get("message") for e in reversed(events) if e.get("message")), "")
        raise BuilderError(f"fine-tuning did not finish: {message}", field="finetune_epochs")
    model.cpu()
    return trainer.events_since(0)[0]


def _quantize(trained: Trained, dataset, request: CompressRequest) -> CompressResult:
    quantize.check_quantizable(trained.arch, request.quantization)
    if request.quantization == "dynamic":
        model = quantize.quantize_dynamic(trained.model)
    else:
        model = quantize.quantize_static(trained.model, dataset.x_train, seed=request.seed)
    report = {"params_after": measure.nonzero_params(trained.model)}  # int8 keeps every weight
    return CompressResult(report, trained.arch, model, quantized=True)


def _distill(trained: Trained, dataset, request: CompressRequest) -> CompressResult:
    from builder.compress.distill import DistillConfig, distill

    teacher = request.teacher or trained
    config = DistillConfig(
        epochs=request.epochs,
        batch_size=int(trained.settings.get("batch_size", 64)),
        lr=float(trained.settings.get("lr", 1e-3)),
        temperature=request.temperature,
        alpha=request.alpha,
        seed=request.seed,
    )
    distilled, alone = distill(teacher.model.cpu(), request.student, dataset, config)
    report = {
        "teacher": teacher.origin,
        "student_alone_metric": alone.curve("val")[-1],
        "temperature": request.temperature,
        "alpha": request.alpha,
        "epochs": request.epochs,
        "train_samples": len(dataset.x_train),
    }
    return CompressResult(
        report, request.student, distilled.model,
        events=distilled.events, baseline_events=alone.events,
    )  # fmt: skip
