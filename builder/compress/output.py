"""The compressed bundle: files that load with torch alone, a README that says how, compress.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from builder.errors import BuilderError

# The file holding the compressed model in each kind of bundle.
MODEL_FILES = ("weights.safetensors", "model_int8.pt")
REPORT_FILE = "compress.json"


def write(result, trained, dataset, out_dir) -> list[Path]:
    """Write the bundle for result into out_dir; returns the paths written."""
    if result.quantized:
        return _write_quantized(result, dataset, Path(out_dir))
    return _write_float(result, trained, dataset, Path(out_dir))


def _write_float(result, trained, dataset, out: Path) -> list[Path]:
    from builder.export import write_bundle

    settings = {k: v for k, v in trained.settings.items() if k in _TRAIN_KEYS}
    return list(
        write_bundle(
            result.arch,
            out,
            config=settings or None,
            dataset_name=dataset.name,
            dataset=dataset,
            model=result.model,
            onnx=False,
        )
    )


def _write_quantized(result, dataset, out: Path) -> list[Path]:
    from builder.compile import example_inputs
    from builder.compress.quantize import torchscript_bytes
    from builder.export import standardisation_stats

    example = tuple(example_inputs(result.arch, batch_size=2))
    files = {
        "model_int8.pt": torchscript_bytes(result.model, example),
        "graph.json": (json.dumps(result.arch.to_json(), indent=2) + "\n").encode(),
    }
    stats = standardisation_stats(dataset)
    if stats is not None:
        files["standardisation.json"] = (json.dumps(stats, indent=2) + "\n").encode()
    files["README.md"] = _quantized_readme(result.arch).encode()
    return _write_files(out, files)


def _write_files(out: Path, files: dict[str, bytes]) -> list[Path]:
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)
            written.append(out / name)
    except OSError as err:
        raise BuilderError(
            f"cannot write the bundle: {err.strerror or err}",
            file=str(out),
            hint="Choose a folder you can write to.",
        ) from None
    return written


def write_report(result, out_dir) -> None:
    """compress.json (the comparison) and a Compression section at the end of README.md."""
    out = Path(out_dir)
    (out / REPORT_FILE).write_text(json.dumps(result.report, indent=2) + "\n", encoding="utf-8")
    readme = out / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    readme.write_text(text + _report_section(result.report), encoding="utf-8")


def _report_section(report: dict[str, Any]) -> str:
    rows = [
        ("parameters (non-zero)", "params_before", "params_after", "{:,}"),
        ("model file (bytes)", "bytes_before", "bytes_after", "{:,}"),
        ("CPU latency per batch of 64 (ms)", "latency_ms_before", "latency_ms_after", "{:.3f}"),
        (str(report.get("metric", "metric")), "metric_before", "metric_after", "{:.4f}"),
    ]
    lines = ["", "## Compression", "", f"Method: {report['method']}.", ""]
    lines += ["| | original | compressed |", "| --- | --- | --- |"]
    for label, before, after, fmt in rows:
        lines.append(f"| {label} | {fmt.format(report[before])} | {fmt.format(report[after])} |")
    lines.append("")
    lines.append(f"The figures are also in `{REPORT_FILE}`.")
    return "\n".join(lines) + "\n"


def _quantized_readme(arch) -> str:
    inputs = [arch.params_of(i) for i in arch.input_nodes()]
    shapes = ", ".join(
        f"torch.{'randint(0, 10, ' if p['dtype'] == 'int64' else 'randn('}(8, {', '.join(map(str, p['shape']))}))"
        for p in inputs
    )
    return (
        "\n".join(
            [
                f"# {_title(arch)} (int8)",
                "",
                "Quantized by LayerCraft. `model_int8.pt` is a TorchScript archive: it needs only",
                "`torch` (no model.py, no LayerCraft) and runs on the CPU.",
                "",
                "```python",
                "import torch",
                "",
                'model = torch.jit.load("model_int8.pt")',
                "model.eval()",
                f"outputs = model({shapes})  # a batch of 8 inputs",
                "```",
                "",
                "Inputs are standardised as in training (see `standardisation.json` when present).",
                "`graph.json` is the float graph, to re-open in LayerCraft.",
            ]
        )
        + "\n"
    )


def _title(arch) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9 _.,()+-]", "", str(arch.name))[:80] or "Model"


# TrainConfig fields a bundle's config.json shares with the trainer (the rest describe data).
_TRAIN_KEYS = {
    "epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "l1", "schedule",
    "step_size", "gamma", "clip_grad", "early_stopping_patience", "seed",
    "augment_shift", "augment_hflip", "augment_noise",
}  # fmt: skip
