"""model.onnx via torch.onnx.export (the torch.export-based exporter first)."""

from __future__ import annotations

import contextlib
import copy
import logging
import tempfile
import warnings
from pathlib import Path

from builder.errors import BuilderError


def onnx_bytes(arch, model=None) -> bytes:
    """model.onnx via torch.onnx.export with a dynamic batch axis; BuilderError when it cannot."""
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
        import onnxscript  # noqa: F401
    except ImportError:
        raise BuilderError(
            "model.onnx was not written: the ONNX packages are not installed",
            hint="Install them with `pip install onnx onnxscript` and export again.",
        ) from None
    import torch

    from builder.compile import compile_model, example_inputs

    if model is None:
        torch.manual_seed(0)
        model = compile_model(arch)
    module = copy.deepcopy(model).cpu().float().eval()
    inputs = tuple(example_inputs(arch, batch_size=2))
    names = [f"input_{i}" if len(inputs) > 1 else "input" for i in range(len(inputs))]
    # Named outputs (Output nodes) keep their names in the ONNX graph, in return order.
    outputs = arch.output_nodes()
    named = any(arch.type_of(n) == "Output" for n in outputs)
    output_names = list(outputs) if named else None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        try:
            with _quiet_onnx_registry():
                _export_onnx(torch, module, inputs, names, output_names, path)
        except Exception as err:  # the exporter raises many types; the user needs one message
            raise BuilderError(
                f"model.onnx was not written: torch.onnx.export failed ({_first_line(err)})",
                hint="The other files are complete; model.py and the weights still run in PyTorch.",
            ) from None
        return path.read_bytes()


@contextlib.contextmanager
def _quiet_onnx_registry():
    # The exporter logs a warning per torchvision op it cannot register; we never use them.
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _export_onnx(torch, module, inputs, names, output_names, path: Path) -> None:
    """The torch.export-based exporter first; the TorchScript one for models it cannot trace."""
    batch = torch.export.Dim("batch", min=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                inputs,
                str(path),
                input_names=names,
                output_names=output_names,
                dynamic_shapes=tuple({0: batch} for _ in inputs),
                dynamo=True,
                verbose=False,
                external_data=False,
            )
        return
    except Exception:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            inputs,
            str(path),
            input_names=names,
            output_names=output_names,
            dynamic_axes={n: {0: "batch"} for n in names},
            dynamo=False,
        )


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]
