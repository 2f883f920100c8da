"""A torch.nn module instance -> (layer type, params), read from the module's own attributes.

Params in graph JSON use torch's constructor names, so most layers need no table: each
declared Param is read from the attribute of the same name. The tables below hold only
what differs (attributes torch stores elsewhere) and the constructor options our layer
types do not offer yet, which must be at torch's default or the import is refused.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..layers import REGISTRY
from .problems import Unsupported

# nn classes whose forward is only a loop over children: we look inside them.
TRANSPARENT = {"Sequential", "ModuleList", "ModuleDict", "TransformerEncoder"}


def _bias(m: nn.Module) -> bool:
    return getattr(m, "bias", None) is not None


def _encoder_activation(m: nn.Module) -> str:
    kinds = {1: "relu", 2: "gelu"}
    if getattr(m, "activation_relu_or_gelu", 0) not in kinds:
        raise Unsupported(
            f"its activation {m.activation!r} is neither relu nor gelu",
            "Use activation='relu' or 'gelu'.",
        )
    return kinds[m.activation_relu_or_gelu]


# Type -> param name -> how to read it, where the attribute is not simply module.<name>.
READERS: dict[str, dict[str, Any]] = {
    "Linear": {"bias": _bias},
    "Conv1d": {"bias": _bias},
    "Conv2d": {"bias": _bias},
    "Conv3d": {"bias": _bias},
    "ConvTranspose1d": {"bias": _bias},
    "ConvTranspose2d": {"bias": _bias},
    "ConvTranspose3d": {"bias": _bias},
    "MultiheadAttention": {"bias": lambda m: m.in_proj_bias is not None},
    "TransformerEncoderLayer": {
        "nhead": lambda m: m.self_attn.num_heads,
        "dim_feedforward": lambda m: m.linear1.out_features,
        "dropout": lambda m: m.dropout.p,
        "activation": _encoder_activation,
    },
}

# Type -> constructor option -> torch's default, for options without a Param of ours.
FIXED: dict[str, dict[str, Any]] = {
    "Conv1d": {"padding_mode": "zeros"},
    "Conv2d": {"padding_mode": "zeros"},
    "Conv3d": {"padding_mode": "zeros"},
    "ConvTranspose2d": {"padding_mode": "zeros"},
    "MaxPool1d": {"dilation": 1, "ceil_mode": False, "return_indices": False},
    "MaxPool2d": {"dilation": 1, "ceil_mode": False, "return_indices": False},
    "AvgPool2d": {"ceil_mode": False, "count_include_pad": True, "divisor_override": None},
    "Upsample": {"align_corners": None, "size": None, "recompute_scale_factor": None},
    "Embedding": {"max_norm": None, "scale_grad_by_freq": False, "sparse": False},
    "RNN": {"batch_first": True, "nonlinearity": "tanh"},
    "LSTM": {"batch_first": True, "proj_size": 0},
    "GRU": {"batch_first": True},
    "MultiheadAttention": {
        "batch_first": True,
        "_qkv_same_embed_dim": True,
        "bias_k": None,
        "add_zero_attn": False,
    },
    "TransformerEncoderLayer": {"norm1.eps": 1e-5, "self_attn.batch_first": True},
    "LayerNorm": {"normalized_shape_rank": 1},
    "BatchNorm1d": {"track_running_stats": True},
    "BatchNorm2d": {"track_running_stats": True},
}

FIX_HINTS = {
    "batch_first": "LayerCraft tensors are batch-first: construct it with batch_first=True and "
    "feed (batch, sequence, features).",
    "self_attn.batch_first": "LayerCraft tensors are batch-first: use batch_first=True.",
}


def layer_type_of(module: nn.Module) -> str | None:
    """Our layer type for a torch.nn module (same class name), or None."""
    name = type(module).__name__
    return name if name in REGISTRY and type(module).__module__.startswith("torch.nn") else None


def is_torch_leaf(module: nn.Module) -> bool:
    """A torch.nn building block (not a container we look inside)."""
    cls = type(module)
    return cls.__module__.startswith("torch.nn.modules") and cls.__name__ not in TRANSPARENT


def module_params(type_name: str, module: nn.Module) -> dict[str, Any]:
    """The node params for this module: only those that differ from the spec's defaults."""
    _check_fixed(type_name, module)
    spec = REGISTRY[type_name]
    readers = READERS.get(type_name, {})
    params = {}
    for param in spec.params:
        if param.name in readers:
            value = readers[param.name](module)
        elif hasattr(module, param.name):
            value = getattr(module, param.name)
        else:
            continue  # a param of ours torch does not hold (e.g. a recurrent layer's "return")
        value = normalise(value, param, module)
        if value != param.default:
            params[param.name] = value
    return params


def normalise(value: Any, param, module: nn.Module) -> Any:
    """torch's stored form -> graph JSON's: (5, 5) -> 5, a pool stride equal to its kernel -> None."""
    if isinstance(value, tuple | list):
        value = list(value)
        if param.kind == "int_or_tuple" and value and all(v == value[0] for v in value):
            value = value[0]
    if param.name == "stride" and param.optional and value == normalise_kernel(module):
        return None
    if param.kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def normalise_kernel(module: nn.Module) -> Any:
    kernel = getattr(module, "kernel_size", None)
    if isinstance(kernel, tuple | list) and all(k == kernel[0] for k in kernel):
        return kernel[0]
    return list(kernel) if isinstance(kernel, tuple) else kernel


def _check_fixed(type_name: str, module: nn.Module) -> None:
    spec = REGISTRY[type_name]
    for option, default in FIXED.get(type_name, {}).items():
        if spec.param(option) is not None:
            continue  # the layer type offers it now: read like any other param
        value = _read(module, option)
        if not _same(value, default):
            raise Unsupported(
                f"{option}={value!r} is not offered by LayerCraft's {type_name} (only {default!r})",
                FIX_HINTS.get(option, f"Construct it with {option}={default!r}."),
            )


def _read(module: nn.Module, option: str) -> Any:
    if option == "normalized_shape_rank":
        return len(module.normalized_shape)
    value: Any = module
    for part in option.split("."):
        value = getattr(value, part, None)
    return value


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, tuple) and not isinstance(default, tuple):
        return all(v == default for v in value)
    return value == default
