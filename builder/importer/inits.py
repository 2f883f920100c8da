"""Per-node weight init as the model's constructor did it: `nn.init.normal_(m.weight, 0, 0.02)`
becomes that layer's `weight_init: "normal(0, 0.02)"`.

A captured forward pass cannot see how weights were initialised, so the constructor is
watched instead: while the model is built, the `nn.init` functions and the in-place tensor
initialisers (`w.data.normal_(0, 0.02)`) note each call the user's code makes, whether it
is a plain statement, a loop over `self.modules()` or `self.apply(weights_init)`. Calls
from inside torch (a layer's own default init) are not the user's and are not noted. The
last noted call on a tensor is its init; one LayerCraft cannot write down (say kaiming
with `mode="fan_out"`) is reported and the layer keeps torch's default.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import BuilderError
from ..graph import Architecture
from ..layers.init import INITS

FUNCTION_TO_NAME = {function: name for name, (function, _) in INITS.items()}
TENSOR_PARAMS = {"weight": "weight_init", "bias": "bias_init"}
# In-place tensor methods that initialise: method -> (init name, its argument names).
TENSOR_METHODS = {
    "normal_": ("normal", ("mean", "std")),
    "uniform_": ("uniform", ("from", "to")),
    "fill_": ("constant", ("value",)),
    "zero_": ("zeros", ()),
}
TENSOR_DEFAULTS = {"normal_": (0.0, 1.0), "uniform_": (0.0, 1.0)}  # the other number's default
TORCH_DIR = str(Path(torch.__file__).resolve().parent)
_watching = threading.Lock()  # one constructor watched at a time: the patches are global


@dataclass
class InitCall:
    tensor: torch.Tensor  # held until the end, so no later tensor can take its address
    text: str | None  # "normal(0, 0.02)"; None when LayerCraft cannot write it down
    call: str  # as the user wrote it, for the report: "kaiming_normal_(mode='fan_out')"


@contextlib.contextmanager
def watching_inits() -> Iterator[list[InitCall]]:
    """Note the init calls the user's code makes in this thread while the block runs."""
    calls: list[InitCall] = []
    thread = threading.get_ident()
    with _watching:
        patched = [(nn.init, f, _init_function(f, calls, thread)) for f in FUNCTION_TO_NAME]
        patched += [(torch.Tensor, m, _tensor_method(m, calls, thread)) for m in TENSOR_METHODS]
        originals = [(owner, name, owner.__dict__.get(name)) for owner, name, _ in patched]
        for owner, name, noted in patched:
            setattr(owner, name, noted)
        try:
            yield calls
        finally:
            for owner, name, original in originals:
                if original is None:
                    delattr(owner, name)  # an inherited method: the base's shows again
                else:
                    setattr(owner, name, original)


def _by_user(thread: int) -> bool:
    """True when the noted call comes from outside torch, in the watched thread."""
    caller = sys._getframe(2).f_code.co_filename
    return threading.get_ident() == thread and not caller.startswith(TORCH_DIR)


def _init_function(function: str, calls: list[InitCall], thread: int):
    original = getattr(nn.init, function)

    def noted(tensor, *args, **kwargs):
        if _by_user(thread):
            calls.append(_function_call(original, function, tensor, args, kwargs))
        return original(tensor, *args, **kwargs)

    return noted


def _tensor_method(method: str, calls: list[InitCall], thread: int):
    original = getattr(torch.Tensor, method)

    def noted(tensor, *args, **kwargs):
        if _by_user(thread):
            calls.append(_method_call(method, tensor, args, kwargs))
        return original(tensor, *args, **kwargs)

    return noted


def _function_call(original, function: str, tensor, args, kwargs) -> InitCall:
    """An nn.init call as init text: its leading numbers; any other argument says no."""
    written = _written(function, args, kwargs)
    signature = inspect.signature(original)
    try:
        given = dict(signature.bind(tensor, *args, **kwargs).arguments)
    except TypeError:
        return InitCall(tensor, None, written)
    names = list(signature.parameters)
    del given[names[0]]  # the tensor
    numbered = names[1 : 1 + INITS[FUNCTION_TO_NAME[function]][1]]
    if any(n not in numbered for n in given) or not all(map(_is_number, given.values())):
        return InitCall(tensor, None, written)
    # Up to the last number given, defaults filling the gaps: normal_(w, std=0.02) -> (0, 0.02).
    upto = max((numbered.index(n) + 1 for n in given), default=0)
    numbers = [float(given.get(n, signature.parameters[n].default)) for n in numbered[:upto]]
    return InitCall(tensor, _text(FUNCTION_TO_NAME[function], numbers), written)


def _method_call(method: str, tensor, args, kwargs) -> InitCall:
    """`w.normal_(0, 0.02)`, `w.fill_(1)`, `w.zero_()` as init text."""
    name, argument_names = TENSOR_METHODS[method]
    written = _written(method, args, kwargs)
    rest = dict(kwargs)
    values = list(args) + [rest.pop(n) for n in argument_names[len(args) :] if n in rest]
    if rest or len(values) > len(argument_names) or not all(map(_is_number, values)):
        return InitCall(tensor, None, written)
    numbers = [float(v) for v in values]
    if method in TENSOR_DEFAULTS and numbers:
        numbers += TENSOR_DEFAULTS[method][len(numbers) :]
    return InitCall(tensor, _text(name, numbers), written)


def _is_number(value) -> bool:
    return type(value) in (int, float)


def _text(name: str, numbers: list[float]) -> str:
    return f"{name}({', '.join(map(_format, numbers))})" if numbers else name


def _written(function: str, args, kwargs) -> str:
    shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{function}({', '.join(shown)})"


def _format(number: float) -> str:
    return str(int(number)) if number.is_integer() else repr(number)


def _key(tensor: torch.Tensor) -> tuple[int, tuple[int, ...]]:
    """The same for a parameter and its `.data`."""
    return tensor.data_ptr(), tuple(tensor.shape)


def apply_inits(
    arch: Architecture, sources: dict[str, str], model: nn.Module, calls: list[InitCall]
) -> list[str]:
    """Set weight_init / bias_init on the nodes whose tensors the constructor initialised;
    returns what could not be carried over, one line each."""
    last = {_key(call.tensor): call for call in calls}  # a later init overwrites one before
    node_of = {path: node for node, path in sources.items()}
    notes = []
    for name, tensor in model.named_parameters():
        call = last.get(_key(tensor))
        module_path, _, kind = name.rpartition(".")
        node_id = node_of.get(module_path)
        if call is None or kind not in TENSOR_PARAMS or node_id not in arch:
            continue
        if call.text is None:
            notes.append(f"{node_id}.{kind}: {call.call} has no init setting; torch's default kept")
            continue
        try:
            arch.update_params(node_id, **{TENSOR_PARAMS[kind]: call.text})
        except BuilderError:
            notes.append(f"{node_id}.{kind}: {arch.type_of(node_id)} takes no {kind} init")
    return notes
