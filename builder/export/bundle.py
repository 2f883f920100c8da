"""The export bundle: which files it holds, written to a folder or zipped, with its README."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from builder.errors import BuilderError

from .consistency import check_weights_fit
from .onnx_export import onnx_bytes
from .settings import _class_name, render_train_script, train_settings
from .weights import weights_bytes

# Embedded sets whose generator imports scikit-learn (the bundle's requirements say so).
NEEDS_SKLEARN = {"digits", "moons", "circles", "blobs", "friedman"}


class BundleFiles(list):
    """The paths written, plus `notes`: plain sentences about what was left out and why."""

    def __init__(self, paths=(), notes=()):
        super().__init__(paths)
        self.notes: list[str] = list(notes)


# ---- public API -----------------------------------------------------------------------------


def write_bundle(
    arch,
    out_dir: str | Path,
    *,
    config=None,
    dataset_name: str | None = None,
    data_path: str | None = None,
    model=None,
    onnx: bool = True,
    dataset=None,
    dataset_options: dict | None = None,
) -> BundleFiles:
    """Write the bundle into out_dir (created if needed); returns the paths written, with notes.

    config: a TrainConfig or its dict; dataset / dataset_name: the data trained on (a
    Dataset, or an embedded set's name); data_path: the file trained on, if any;
    model: the trained module (its weights go to weights.safetensors and model.onnx).
    """
    files, notes = render_bundle(
        arch,
        config=config,
        dataset_name=dataset_name,
        data_path=data_path,
        model=model,
        onnx=onnx,
        dataset=dataset,
        dataset_options=dataset_options,
    )
    out = Path(out_dir)
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            path = out / name
            path.write_bytes(data)
            written.append(path)
    except OSError as err:
        raise BuilderError(
            f"cannot write the bundle: {err.strerror or err}",
            file=str(out),
            hint="Choose a folder you can write to.",
        ) from err
    return BundleFiles(written, notes)


def bundle_zip(arch, **options) -> bytes:
    """The same files as `write_bundle` (same keyword options), as a zip in a folder named after the model."""
    files, _ = render_bundle(arch, **options)
    folder = _class_name(arch).lower()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
    return buffer.getvalue()


def render_bundle(
    arch,
    *,
    config=None,
    dataset_name: str | None = None,
    data_path: str | None = None,
    model=None,
    onnx: bool = True,
    dataset=None,
    dataset_options: dict | None = None,
    note: str | None = None,
) -> tuple[dict[str, bytes], list[str]]:
    """Every bundle file as name -> bytes, plus notes on what was left out and why."""
    notes: list[str] = [note] if note else []
    if isinstance(dataset, str):
        dataset_name, dataset = dataset, None
    source = model_source(arch)
    settings = train_settings(
        arch, config, dataset=dataset, dataset_name=dataset_name, data_path=data_path,
        dataset_options=dataset_options, notes=notes,
    )  # fmt: skip
    files = {
        "model.py": source.encode(),
        "train.py": render_train_script(arch, settings).encode(),
        "graph.json": (json.dumps(arch.to_json(), indent=2) + "\n").encode(),
        "config.json": (json.dumps(settings, indent=2) + "\n").encode(),
    }
    if model is not None:
        check_weights_fit(arch, model)  # never new code with old weights
        files["weights.safetensors"] = weights_bytes(model, arch)
    stats = standardisation_stats(dataset)
    if stats is not None:
        files["standardisation.json"] = (json.dumps(stats, indent=2) + "\n").encode()
    if onnx:
        try:
            files["model.onnx"] = onnx_bytes(arch, model)
            if model is None:
                notes.append(
                    "model.onnx holds freshly initialised weights: train first to export trained ones."
                )
        except BuilderError as err:
            notes.append(str(err))
    else:
        notes.append("model.onnx was not asked for.")
    files["requirements.txt"] = _requirements(settings, "model.onnx" in files).encode()
    files["README.md"] = _readme(arch, settings, files, notes).encode()
    return files, notes


def standardisation_stats(dataset) -> dict[str, Any] | None:
    """The training split's mean and std that inputs (and regression targets) were scaled by."""
    stats: dict[str, Any] = {}
    if getattr(dataset, "input_mean", None) is not None:
        # One number for images, one per feature for feature vectors.
        stats["input_mean"] = np.asarray(dataset.input_mean, dtype=float).tolist()
        stats["input_std"] = np.asarray(dataset.input_std, dtype=float).tolist()
    if getattr(dataset, "target_mean", None) is not None:
        stats["target_mean"] = float(dataset.target_mean)
        stats["target_std"] = float(dataset.target_std)
    return stats or None


def model_source(arch) -> str:
    """The model.py text: the same string `compile_model` execs for training."""
    from builder.codegen import generate_source

    return generate_source(arch)


# ---- requirements and README ----------------------------------------------------------------


def _requirements(settings: dict[str, Any], with_onnx: bool) -> str:
    # Lower bounds the script needs (torch.autocast on CPU and CUDA, DDP, weights_only
    # loading), not the versions installed here, so the bundle installs anywhere.
    # torch 2.5: nn.Buffer, which model.py uses for fixed position tables.
    lines = ["torch>=2.5", "numpy>=1.24"]
    if settings["dataset"] in NEEDS_SKLEARN:
        lines.append("scikit-learn>=1.4")
    lines.append("safetensors>=0.4  # only to load weights.safetensors")
    if with_onnx:
        lines.append("onnxruntime>=1.18  # only to run model.onnx")
    return "\n".join(lines) + "\n"


def _readme(arch, settings: dict[str, Any], files: dict[str, bytes], notes: list[str]) -> str:
    class_name = _class_name(arch)
    title = re.sub(r"[^A-Za-z0-9 _.,()+-]", "", str(arch.name))[:80] or class_name
    if settings["dataset"]:
        data_line = (
            f"It regenerates the built-in `{settings['dataset']}` dataset exactly as the app did."
        )
        data_arg = ""
    else:
        data_line = (
            "It reads your data file (.npz with arrays `x` and `y`, .csv, or MNIST IDX images)."
        )
        data_arg = " --data PATH"
    sections = [
        f"# {title}",
        "",
        "Exported from LayerCraft. Needs Python 3.10+ and `pip install -r requirements.txt`.",
        "",
        "| file | what it is |",
        "| --- | --- |",
        f"| `model.py` | the `{class_name}` module, exactly the code that trained in the app |",
        "| `train.py` | a standalone training script with the settings you chose |",
        "| `config.json` | those settings; `graph.json`: the graph, to re-open in LayerCraft |",
    ]
    if "weights.safetensors" in files:
        sections.append("| `weights.safetensors` | the trained weights |")
    if "model.onnx" in files:
        sections.append("| `model.onnx` | the model for ONNX Runtime (dynamic batch size) |")
    sections += [
        "",
        "## Train",
        "",
        f"{data_line} Checkpoints, `metrics.jsonl` and the final `model.pt` go to `runs/`.",
        "",
        "```bash",
        f"python train.py{data_arg}                       # one device: CUDA, else MPS, else CPU",
        f"python train.py{data_arg} --epochs 20 --resume  # continue from runs/checkpoint.pt",
        "```",
        "",
        "## Scale out",
        "",
        "The same script runs under `torchrun` with DistributedDataParallel: each process",
        "trains on its slice of every epoch, gradients are averaged, rank 0 logs and saves.",
        "`--batch-size` stays the global batch. NCCL on GPUs (with bf16 autocast), gloo on CPUs.",
        "",
        "```bash",
        f"torchrun --standalone --nproc_per_node=4 train.py{data_arg}",
        "# two machines, 8 GPUs each (run with --node_rank=1 on the second):",
        f"torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --master_port=29500 --nproc_per_node=8 train.py{data_arg}",
        "```",
        "",
        "## Use the weights",
        "",
        "```python",
        "from safetensors.torch import load_file",
        f"from model import {class_name}",
        "",
        f"model = {class_name}()",
        'model.load_state_dict(load_file("weights.safetensors"))  # or torch.load("runs/model.pt")',
        "model.eval()",
        "```",
    ]
    if "model.onnx" in files:
        sections += [
            "",
            "```python",
            "import onnxruntime",
            "",
            'session = onnxruntime.InferenceSession("model.onnx")',
            "outputs = session.run(None, {session.get_inputs()[0].name: batch})  # batch: numpy array",
            "```",
        ]
    if "standardisation.json" in files:
        stats = json.loads(files["standardisation.json"])
        sections += [
            "",
            "The model was trained on standardised data: scale new inputs with the training",
            "split's statistics in `standardisation.json` before calling it"
            + (", and undo the target scaling on its outputs:" if "target_mean" in stats else ":"),
            "",
            "```python",
            "import json",
            "",
            "import numpy as np",
            "",
            'stats = json.load(open("standardisation.json"))',
            'x = (x - np.array(stats["input_mean"])) / np.array(stats["input_std"])'
            if "input_mean" in stats
            else "# inputs were used as they are",
        ]
        if "target_mean" in stats:
            sections.append('y = model_output * stats["target_std"] + stats["target_mean"]')
        sections.append("```")
    elif settings["standardise"] and settings["input_dtype"] == "float32":
        sections += [
            "",
            "Inputs were standardised with the training split's mean and std (see `split_and_standardise`",
            "in train.py); standardise new inputs the same way before calling the model.",
        ]
    if notes:
        sections += ["", "## Notes", "", *(f"- {note}" for note in notes)]
    return "\n".join(sections) + "\n"
