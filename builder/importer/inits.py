"""Per-node weight init read back from the source: `nn.init.normal_(self.fc1.weight, 0, 0.02)`
in `__init__` becomes fc1's `weight_init: "normal(0, 0.02)"`.

A captured forward pass cannot see how weights were initialised, so the class's own
`__init__` is read as text (never run again): only plain top-level statements of the form
`nn.init.<name>_(self.<attr>.weight|bias, <numbers>)` are taken, which is what a LayerCraft
export writes. An init done any other way (a loop, `model.apply(...)`) is not read.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ..errors import BuilderError
from ..graph import Architecture
from ..layers.init import INITS

FUNCTION_TO_NAME = {function: name for name, (function, _) in INITS.items()}
TENSOR_PARAMS = {"weight": "weight_init", "bias": "bias_init"}


def apply_source_inits(
    arch: Architecture, sources: dict[str, str], source: Path | None, class_name: str
) -> list[str]:
    """Set weight_init / bias_init on the nodes whose init the class's __init__ states;
    returns the node ids changed."""
    if source is None:
        return []
    node_of = {path: node for node, path in sources.items()}
    changed = []
    for attr, tensor, text in _init_statements(source, class_name):
        node_id = node_of.get(attr)
        if node_id is None or node_id not in arch:
            continue
        try:
            arch.update_params(node_id, **{TENSOR_PARAMS[tensor]: text})
        except BuilderError:
            continue  # a layer type without that init param: its init is torch's default
        changed.append(node_id)
    return changed


def _init_statements(source: Path, class_name: str) -> list[tuple[str, str, str]]:
    """(attribute, "weight" | "bias", init text) for each plain init statement in __init__."""
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    found = []
    for statement in _init_body(tree, class_name):
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            parsed = _parse_call(statement.value)
            if parsed is not None:
                found.append(parsed)
    return found


def _init_body(tree: ast.Module, class_name: str) -> list[ast.stmt]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    return item.body
    return []


def _parse_call(call: ast.Call) -> tuple[str, str, str] | None:
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in FUNCTION_TO_NAME:
        return None
    if not (isinstance(func.value, ast.Attribute) and func.value.attr == "init"):
        return None
    if not call.args or call.keywords:
        return None
    target, *rest = call.args
    if not (
        isinstance(target, ast.Attribute)
        and target.attr in TENSOR_PARAMS
        and isinstance(target.value, ast.Attribute)
        and isinstance(target.value.value, ast.Name)
        and target.value.value.id == "self"
    ):
        return None
    numbers = [_number(arg) for arg in rest]
    if any(n is None for n in numbers):
        return None
    name = FUNCTION_TO_NAME[func.attr]
    text = f"{name}({', '.join(map(_format, numbers))})" if numbers else name
    return target.value.attr, target.attr, text


def _number(node: ast.expr) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    return None


def _format(number: float) -> str:
    return str(int(number)) if number.is_integer() else repr(number)
