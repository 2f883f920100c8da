"""train.py's SETTINGS: the training config plus what the data is, and the rendered script."""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path
from typing import Any

from builder.errors import BuilderError
from builder.settings_check import check_settings

TEMPLATES = Path(__file__).resolve().parent.parent / "export_templates"

# Names the trainer may use -> the names train.py's SETTINGS understands.
OPTIMIZERS = {
    "sgd": "sgd",
    "momentum": "momentum",
    "sgd_momentum": "momentum",
    "sgd+momentum": "momentum",
    "nesterov": "nesterov",
    "adagrad": "adagrad",
    "rmsprop": "rmsprop",
    "adam": "adam",
    "adamw": "adamw",
    "adadelta": "adadelta",
}
SCHEDULES = {
    "none": "none",
    "constant": "none",
    "step": "step",
    "cosine": "cosine",
    "onecycle": "onecycle",
    "one_cycle": "onecycle",
    "one-cycle": "onecycle",
    "plateau": "plateau",
    "reduce_on_plateau": "plateau",
    "reduce-on-plateau": "plateau",
}
LOSSES = {
    "cross_entropy": "cross_entropy",
    "crossentropy": "cross_entropy",
    "ce": "cross_entropy",
    "bce": "bce",
    "bce_with_logits": "bce",
    "mse": "mse",
    "l1": "l1",
    "mae": "l1",
    "huber": "huber",
}


def train_settings(
    arch,
    config=None,
    *,
    dataset=None,
    dataset_name: str | None = None,
    data_path: str | None = None,
    dataset_options: dict | None = None,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The SETTINGS dict train.py starts with: the training config plus what the data is.

    dataset_options: how the embedded set was loaded (seed, n_samples, noise, task,
    val_fraction, label_column, maker options); `notes` collects what could not be kept.
    """
    cfg = _config_dict(config)
    if dataset is None and dataset_name is None and data_path is None and cfg.get("dataset"):
        # A bundle's own config.json names its dataset: re-exporting with it keeps the data.
        dataset_name = cfg["dataset"]
        dataset_options = dataset_options or {
            **cfg.get("dataset_options", {}),
            "seed": cfg.get("data_seed", cfg.get("seed", 0)),
        }
    settings: dict[str, Any] = {
        "epochs": int(cfg.get("epochs", 10)),
        "batch_size": int(cfg.get("batch_size", 64)),
        "optimizer": _choice(cfg.get("optimizer", "adam"), OPTIMIZERS, "optimizer"),
        "lr": float(cfg.get("lr", 1e-3)),
        "momentum": float(cfg.get("momentum", 0.9) or 0.0),
        "weight_decay": float(cfg.get("weight_decay", 0.0) or 0.0),
        "l1": float(cfg.get("l1", 0.0) or 0.0),
        "schedule": _choice(cfg.get("schedule", "none") or "none", SCHEDULES, "schedule"),
        "step_size": int(cfg.get("step_size", 10)),
        "gamma": float(cfg.get("gamma", 0.1)),
        "loss": "auto",
        "clip_grad": _optional_float(cfg.get("clip_grad")),
        "early_stopping_patience": _optional_int(cfg.get("early_stopping_patience")),
        "seed": int(cfg.get("seed", 0) or 0),
        "augment_shift": int(cfg.get("augment_shift", 0) or 0),
        "augment_hflip": bool(cfg.get("augment_hflip", False)),
        "augment_noise": float(cfg.get("augment_noise", 0.0) or 0.0),
        # bf16 autocast only ever applies on CUDA; the exported script uses it there by default.
        "amp": True,
    }
    notes = notes if notes is not None else []
    settings.update(
        _data_settings(arch, dataset, dataset_name, data_path, dataset_options, settings, notes)
    )
    settings["loss"] = _loss_for(arch, cfg.get("loss", "auto"), settings["task"])
    frozen = _frozen_attributes(arch)
    if frozen:
        settings["frozen"] = frozen
    if any(arch.type_of(n) == "Reparameterize" for n in arch.node_ids):
        settings["kl_weight"] = float(cfg.get("kl_weight", 1.0))  # a VAE's loss has a KL part
    return settings


def _frozen_attributes(arch) -> list[str]:
    """Attribute names (validated identifiers) of the nodes marked `"trainable": false`."""
    from builder.codegen import attribute_names

    names = attribute_names(arch)
    # A sharer has no layer of its own: its owner's switch decides (builder/sharing.py).
    return [
        names[n]
        for n in arch.node_ids
        if not arch.trainable_of(n) and n in names and not arch.params_of(n).get("shares")
    ]


def render_train_script(arch, settings: dict[str, Any]) -> str:
    """train.py for this model: the template with the model import, SETTINGS and data maker filled in."""
    template = (TEMPLATES / "train.py").read_text()
    class_name = _class_name(arch)
    text = _replace_region(template, "model", f"from model import {class_name} as Net\n")
    text = _replace_region(text, "settings", _settings_source(settings))
    text = _replace_region(text, "dataset", _dataset_source(settings["dataset"]))
    ast.parse(text)  # a rendering bug must fail here, not in the user's hands
    return text


def _replace_region(text: str, name: str, body: str) -> str:
    """Swap the lines between `# <export:name>` and `# </export:name>` (markers included) for body."""
    pattern = re.compile(rf"# <export:{name}>\n.*?# </export:{name}>\n", re.DOTALL)
    if not pattern.search(text):
        raise RuntimeError(f"train.py template lost its {name} region")
    return pattern.sub(lambda _: body, text, count=1)


def _settings_source(settings: dict[str, Any]) -> str:
    lines = [
        "# The settings chosen in LayerCraft; edit them here or override them on the command line.",
        "SETTINGS = {",
    ]
    lines += [f"    {_literal(key)}: {_literal(value)}," for key, value in settings.items()]
    lines.append("}")
    source = "\n".join(lines) + "\n"
    # Every value is a plain literal; prove it round-trips before it goes into a script.
    if ast.literal_eval(source.split("=", 1)[1].strip()) != settings:
        raise RuntimeError("SETTINGS did not round-trip")
    return source


def _literal(value: Any) -> str:
    """Python source for a JSON-like value; strings go through repr, so they cannot escape."""
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid Python escapes
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BuilderError(f"setting value {value} is not a finite number")
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(str(k))}: {_literal(v)}" for k, v in value.items()) + "}"
    raise BuilderError(f"cannot write a setting of type {type(value).__name__}")


def _dataset_source(name: str | None) -> str:
    """The generator for an embedded set, renamed make_dataset; a stub that explains when none."""
    if name is None:
        return (
            "def make_dataset(rng, **options):\n"
            '    """This model was trained on a data file; train.py reads it from --data."""\n'
            '    raise SystemExit("pass the data file with --data PATH")\n'
        )
    source = (TEMPLATES / "datasets.py").read_text()
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == f"make_{name}":
            function = ast.get_source_segment(source, node)
            return function.replace(f"def make_{name}(", "def make_dataset(", 1) + "\n"
    raise BuilderError(
        f"the dataset {name!r} cannot be regenerated outside the app",
        field="dataset",
        hint="Save it as an .npz file and train on that file.",
    )


def embedded_makers() -> list[str]:
    """Embedded dataset names whose generator train.py can carry."""
    tree = ast.parse((TEMPLATES / "datasets.py").read_text())
    return [
        node.name.removeprefix("make_")
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("make_")
    ]


def _data_settings(
    arch, dataset, dataset_name, data_path, dataset_options, training: dict, notes: list[str]
) -> dict[str, Any]:
    """What train.py needs to rebuild the data: source, split, task, shapes and dtypes."""
    seed = training["seed"]  # the data seed defaults to the training seed, as in the CLI
    options = {k: v for k, v in dict(dataset_options or {}).items() if v is not None}
    val_fraction = float(options.pop("val_fraction", 0.2))
    seed_given = "seed" in options
    data_seed = int(options.pop("seed", seed))
    label_column = options.pop("label_column", None)
    task = options.pop("task", None) or getattr(dataset, "task", None)
    task = task if task == "reconstruction" else None  # other tasks follow from the set
    name = dataset_name or getattr(dataset, "name", None)
    if data_path is not None or name not in embedded_makers():
        name = None  # a file: train.py reads it from --data
    if dataset is None and name is not None:
        dataset = _load_embedded(name, options, task, val_fraction, data_seed)
    elif name is not None and not seed_given:
        # The caller gave the Dataset but not its seed: find the one that rebuilds it exactly.
        data_seed = _seed_that_rebuilds(dataset, name, options, task, val_fraction, data_seed)
        if data_seed is None:
            data_seed = seed
            notes.append(
                f"train.py regenerates the {name} set but could not rebuild the app's exact "
                "split (a different size, noise or seed); its numbers will be close, not identical."
            )
    if task == "reconstruction":
        options.pop("noise", None)  # the noise is added to inputs while training instead
    train_fraction = float(options.pop("fraction", 1.0))  # applied to the split in train.py
    input_ids = arch.input_nodes()
    input_params = arch.params_of(input_ids[0]) if input_ids else {}
    dtype = getattr(dataset, "dtype", None) or input_params.get("dtype", "float32")
    # The app's Dataset remembers whether it standardised; unknown data files are standardised.
    if dataset is None:
        standardise = True
    elif dtype == "float32":
        standardise = dataset.input_mean is not None
    else:
        standardise = dataset.target_mean is not None
    return {
        "dataset": name,
        "dataset_options": options,
        "data_seed": data_seed,
        "data_file": Path(data_path).name if data_path else None,
        "label_column": label_column,
        "val_fraction": val_fraction,
        "train_fraction": train_fraction,
        "task": getattr(dataset, "task", None) or task or "classification",
        "input_dtype": dtype,
        "standardise": standardise,
        "input_noise": float(getattr(dataset, "input_noise", 0.0) or 0.0),
    }


def _seed_that_rebuilds(dataset, name, options, task, val_fraction, seed) -> int | None:
    """The data seed (the config's, else load_dataset's default 0) that gives this exact split."""
    import torch

    for candidate in dict.fromkeys((seed, 0)):
        try:
            again = _load_embedded(name, options, task, val_fraction, candidate)
        except BuilderError:
            return None
        same = all(
            a.shape == b.shape and torch.equal(a, b)
            for a, b in ((again.x_train, dataset.x_train), (again.y_train, dataset.y_train))
        )
        if same:
            return candidate
    return None


def _load_embedded(name, options, task, val_fraction, seed):
    """The app's own Dataset for an embedded set: its task, dtype and standardisation."""
    from builder.data.embedded import load_dataset

    return load_dataset(name, seed=seed, val_fraction=val_fraction, task=task, **options)


def _loss_for(arch, loss, task: str) -> str:
    """The loss train.py uses: the config's choice, or the trainer's default for the task."""
    if loss and str(loss).lower() != "auto":
        return _choice(loss, LOSSES, "loss")
    if task == "classification":
        return "bce" if _output_width(arch) == 1 else "cross_entropy"
    return "mse"


def _output_width(arch) -> int | None:
    """The last dimension of the (first) output, as the trainer's auto loss reads it."""
    from builder.shapes import analyse

    outputs = arch.output_nodes()
    shape = analyse(arch).nodes[outputs[0]].output_shape if outputs else None
    return shape[-1] if shape else None


def _choice(value, table: dict[str, str], field: str) -> str:
    key = str(value).strip().lower().replace(" ", "_")
    if key not in table:
        raise BuilderError(
            f"train.py cannot use {field} {value!r}",
            field=field,
            hint=f"Choose one of: {', '.join(sorted(set(table.values())))}.",
        )
    return table[key]


def _optional_float(value) -> float | None:
    return None if value in (None, 0, 0.0, False) else float(value)


def _optional_int(value) -> int | None:
    return None if value in (None, 0, False) else int(value)


def _config_dict(config) -> dict[str, Any]:
    """The config as a dict over the trainer's defaults, so a partial dict means the same run."""
    try:
        from builder.training import TrainConfig

        merged = TrainConfig().to_dict()
    except ImportError:
        merged = {}
    if config is not None:
        merged.update(config if isinstance(config, dict) else config.to_dict())
    return check_settings(merged)


def _class_name(arch) -> str:
    from builder.codegen import class_name_for

    name = class_name_for(arch)
    if not name.isidentifier():  # class_name_for sanitises; this guards the one name we paste
        raise BuilderError(f"{name!r} is not a valid class name")
    return name
