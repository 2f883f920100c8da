"""Post-training int8 quantization, saved as TorchScript so it loads with torch alone.

dynamic: torch.ao.quantization.quantize_dynamic. Linear, LSTM and GRU weights become
int8 (activations are quantized on the fly); Embedding tables become int8 weight-only.
static: FX graph mode (prepare_fx, calibrate on training batches, convert_fx). Conv and
Linear run int8 end to end; batch norm is folded into the conv before it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
import zipfile

import torch
from torch import nn

from builder.errors import BuilderError
from builder.graph import Architecture

METHODS = ("dynamic", "static")
# Weighted node types each method turns into int8.
DYNAMIC_INT8 = {"Linear", "LSTM", "GRU", "Embedding"}
STATIC_INT8 = {"Conv1d", "Conv2d", "Linear", "BatchNorm1d", "BatchNorm2d"}
# Weighted node types that stay float beside them (small, and no int8 kernel needed).
DYNAMIC_KEEPS_FLOAT = {"BatchNorm1d", "LayerNorm"}
# Weight-free node types static quantization cannot run in int8 (token ids, attention maths).
STATIC_REFUSES = {"PositionalEmbedding", "SequenceMean", "Softmax", "LogSoftmax", "Multiply"}
CALIBRATION_BATCHES = 16
CALIBRATION_BATCH_SIZE = 64


def supported_types(method: str) -> set[str]:
    """The weighted layer types a method quantizes (for messages and the app's help)."""
    return DYNAMIC_INT8 if method == "dynamic" else STATIC_INT8


def check_quantizable(arch: Architecture, method: str) -> None:
    """Refuse a graph holding a layer the method has no int8 kernel for, naming the node."""
    if method not in METHODS:
        raise BuilderError(
            f"unknown quantization {method!r}", field="quantize", hint="Use dynamic or static."
        )
    allowed = supported_types(method) | (DYNAMIC_KEEPS_FLOAT if method == "dynamic" else set())
    for node_id in arch.topological_order():
        kind = arch.type_of(node_id)
        if kind == "Input" and method == "static" and arch.params_of(node_id)["dtype"] != "float32":
            raise BuilderError(
                "static int8 needs float inputs; this one takes token ids",
                node=node_id,
                hint="Use --quantize dynamic for token models.",
            )
        weighted = kind in WEIGHTED_TYPES
        if (weighted and kind not in allowed) or (method == "static" and kind in STATIC_REFUSES):
            raise BuilderError(
                f"{method} int8 has no kernel for {kind} layers",
                node=node_id,
                hint=f"{method} quantization handles {', '.join(sorted(supported_types(method)))}"
                + (
                    "; try --quantize static for conv nets."
                    if method == "dynamic"
                    else "; try --quantize dynamic for recurrent and token models."
                ),
            )


# Node types that own weights (the rest are glue, pooling and activations).
WEIGHTED_TYPES = {
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "Embedding",
    "GRU",
    "LSTM",
    "LayerNorm",
    "Linear",
    "MultiheadAttention",
    "PositionalEmbedding",
    "RNN",
    "TransformerEncoderLayer",
}


def quantize_dynamic(model: nn.Module) -> nn.Module:
    """int8 weights for Linear / LSTM / GRU, int8 weight-only tables for Embedding."""
    from torch.ao.quantization import default_dynamic_qconfig, float_qparams_weight_only_qconfig
    from torch.ao.quantization import quantize_dynamic as ao_quantize_dynamic

    spec = {
        nn.Linear: default_dynamic_qconfig,
        nn.LSTM: default_dynamic_qconfig,
        nn.GRU: default_dynamic_qconfig,
        nn.Embedding: float_qparams_weight_only_qconfig,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its own deprecation
        return ao_quantize_dynamic(copy.deepcopy(model).cpu().eval(), spec, dtype=torch.qint8)


def quantize_static(model: nn.Module, x_train: torch.Tensor, seed: int = 0) -> nn.Module:
    """FX graph mode int8, calibrated on random training batches."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    engine = _engine()
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x_train), generator=generator)
    batches = [
        x_train[order[i : i + CALIBRATION_BATCH_SIZE]].cpu()
        for i in range(0, len(x_train), CALIBRATION_BATCH_SIZE)
    ][:CALIBRATION_BATCHES]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepared = prepare_fx(
                copy.deepcopy(model).cpu().eval(),
                get_default_qconfig_mapping(engine),
                (batches[0],),
            )
            with torch.no_grad():
                for batch in batches:
                    prepared(batch)
            return convert_fx(prepared)
    except Exception as err:  # FX raises many types; the user needs one plain message
        raise BuilderError(
            f"static int8 could not convert this model ({str(err).splitlines()[0][:200]})",
            field="quantize",
            hint="Try --quantize dynamic.",
        ) from None


def _engine() -> str:
    engines = torch.backends.quantized.supported_engines
    for name in ("x86", "fbgemm", "qnnpack"):
        if name in engines:
            torch.backends.quantized.engine = name
            return name
    raise BuilderError("this PyTorch build has no int8 CPU kernels", field="quantize")


def torchscript_bytes(model: nn.Module, example: tuple[torch.Tensor, ...]) -> bytes:
    """The model as a TorchScript archive (loads with torch.jit.load, no LayerCraft needed).

    The scripted model is frozen (torch.jit.freeze: submodules and their Python-side code are
    inlined into one forward graph, the int8 weights become its constants) and the archive is
    written without its `.debug_pkl` source-range tables, which only serve error messages
    pointing into the code; on small models the code and those tables outweighed the int8
    weights (see _slimmed). The archive is loaded back and must give the scripted model's
    outputs on the example before it is returned; candidates are tried in order: frozen and
    repacked, frozen as torch saved it, then the unfrozen module the same two ways.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scripted = torch.jit.script(model).eval()
            with torch.no_grad():
                expected = scripted(*example)
            for candidate in _frozen_then_plain(scripted):
                saved = _saved(candidate)
                for data in (_slimmed(saved), saved):
                    if _reproduces(data, example, expected):
                        return data
            raise RuntimeError("the saved archive does not reproduce the model's outputs")
    except Exception as err:
        raise BuilderError(
            f"the int8 model could not be saved as TorchScript ({str(err).splitlines()[0][:200]})",
            field="quantize",
        ) from None


def _reproduces(data: bytes, example, expected) -> bool:
    try:
        with torch.no_grad():
            got = torch.jit.load(io.BytesIO(data))(*example)
    except RuntimeError:  # torch refused the repacked archive: fall back to its own
        return False
    return _same_outputs(got, expected)


def _frozen_then_plain(scripted):
    """The frozen module first, then the plain one (some graphs cannot be frozen)."""
    frozen = None
    with contextlib.suppress(Exception):
        frozen = torch.jit.freeze(scripted)
    if frozen is not None:
        yield frozen
    yield scripted


def _saved(scripted) -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    return buffer.getvalue()


# Records torch.jit.load does without: source-range tables that only serve error messages,
# and the archive's random id (it only tells two saves apart).
_DROPPED_RECORDS = {".data/serialization_id"}
# A one-letter root folder: every record's name carries it twice (local and central header).
_ARCHIVE_ROOT = "m"


def _slimmed(data: bytes) -> bytes:
    """The archive repacked smaller, or as it is if it cannot be read as a zip.

    A TorchScript file is a zip archive whose records torch.jit.save stores uncompressed and
    pads to 64-byte boundaries (so large tensors can be memory-mapped); on a model of a few
    kilobytes those headers, the padding and the pickled code outweighed the int8 weights.
    Python's zipfile rewrites it deflated, unpadded, under a one-letter root, without the
    records listed above or empty ones (the stub module torch writes for its own C++
    classes). torch's reader (miniz) inflates deflated records; the caller loads the result
    back and compares outputs before keeping it.
    """
    try:
        return _repacked(data)
    except (zipfile.BadZipFile, IndexError, KeyError):
        return data


def _repacked(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for info in source.infolist():
            name = info.filename.split("/", 1)[1]
            if name.endswith(".debug_pkl") or name in _DROPPED_RECORDS or info.file_size == 0:
                continue
            target.writestr(f"{_ARCHIVE_ROOT}/{name}", source.read(info))
    return buffer.getvalue()


def _same_outputs(got, expected) -> bool:
    got = got if isinstance(got, (tuple, list)) else (got,)
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    return len(got) == len(expected) and all(
        torch.allclose(a.float(), b.float(), atol=1e-5, rtol=1e-4)
        for a, b in zip(got, expected, strict=True)
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
    )
