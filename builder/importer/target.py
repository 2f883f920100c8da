"""`FILE.py:Expr` -> a live nn.Module: load the file, parse the expression, build the model.

Expr names a class (called with its literal arguments), a function that returns a module
(`make_generator(1)`, for a script that builds and initialises it in one place), or a module
the file builds at its top level (`netG`, after `netG.apply(weights_init)`).

The expression is parsed with `ast` and its arguments read with `ast.literal_eval`, so
only literals reach the constructor; the string itself is never eval'd. Loading the
file does run the user's code, which is why the app does it in a subprocess.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from ..errors import BuilderError

TARGET = re.compile(r"^(?P<file>.+?\.py):(?P<expr>.+)$", re.DOTALL)
EXPR_HINT = (
    "Write FILE.py:ClassName or FILE.py:ClassName(literal, ..., key=literal), e.g. "
    'model.py:RNNModel("LSTM", 1000, 200); a function returning a module, or a module the '
    "file builds (FILE.py:netG), works the same way."
)


@dataclass(frozen=True)
class Target:
    """What to import: the file, the name (class, function or module) and literal arguments."""

    file: Path
    class_name: str  # or a function's or a module instance's name
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def parse_target(text: str) -> Target:
    """Split "FILE.py:Expr" and read Expr as a class name or a call with literal arguments."""
    match = TARGET.match(text.strip())
    if not match:
        raise BuilderError(f"cannot read the target {text[:80]!r}", field="target", hint=EXPR_HINT)
    class_name, args, kwargs = parse_expression(match["expr"])
    return Target(Path(match["file"]), class_name, args, kwargs)


def parse_expression(expr: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """`Name` or `Name(literal, key=literal)` -> (name, args, kwargs); anything else is refused."""
    try:
        tree = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError as exc:
        raise BuilderError(
            f"the expression {expr[:80]!r} is not valid Python ({exc.msg})",
            field="target",
            hint=EXPR_HINT,
        ) from None
    if isinstance(tree, ast.Name):
        return tree.id, (), {}
    if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name):
        raise BuilderError(
            f"the expression {expr[:80]!r} must name a class or call one",
            field="target",
            hint=EXPR_HINT,
        )
    if any(isinstance(a, ast.Starred) for a in tree.args) or any(
        k.arg is None for k in tree.keywords
    ):
        raise BuilderError("*args and **kwargs are not accepted", field="target", hint=EXPR_HINT)
    args = tuple(_literal(a, expr) for a in tree.args)
    kwargs = {k.arg: _literal(k.value, expr) for k in tree.keywords}
    return tree.func.id, args, kwargs


def _literal(node: ast.AST, expr: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        raise BuilderError(
            f"argument {ast.unparse(node)[:40]!r} of {expr[:60]!r} is not a literal",
            field="target",
            hint="Only numbers, strings, booleans, None, tuples, lists and dicts are accepted.",
        ) from None


def instantiate(target: Target) -> nn.Module:
    """Run the file as a module and build the model; the user's errors name their line."""
    path = target.file
    if not path.is_file():
        raise BuilderError("no such file", file=str(path), hint="Give the path of a .py file.")
    module_name = f"layercraft_import_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look themselves up here
    sys.path.insert(0, str(path.resolve().parent))  # so `from my_layers import Block` works
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any failure is theirs to see
        raise _user_error("running the file failed", exc, path) from None
    finally:
        sys.path.remove(str(path.resolve().parent))
    found = getattr(module, target.class_name, None)
    if isinstance(found, nn.Module) and not target.args and not target.kwargs:
        return found  # built (and perhaps initialised) by the file itself
    if not _builds_a_module(found):
        raise BuilderError(
            f"{target.class_name!r} is not an nn.Module class, a function or a module in this file",
            file=str(path),
            hint=f"Found: {', '.join(_candidates(module)) or 'none'}.",
        )
    try:
        built = found(*target.args, **target.kwargs)
    except Exception as exc:
        raise _user_error(f"{target.class_name}(...) failed", exc, path) from None
    if not isinstance(built, nn.Module):
        raise BuilderError(
            f"{target.class_name}(...) returned {type(built).__name__}, not an nn.Module",
            file=str(path),
            hint="Name a class, or a function that returns the model.",
        )
    return built


def _builds_a_module(found: Any) -> bool:
    if isinstance(found, type):
        return issubclass(found, nn.Module)
    return inspect.isfunction(found)


def _candidates(module) -> list[str]:
    """The names in the file that could be imported: module classes, then built modules."""
    names = vars(module).items()
    classes = [n for n, v in names if isinstance(v, type) and issubclass(v, nn.Module)]
    built = [n for n, v in names if isinstance(v, nn.Module)]
    return sorted(classes) + sorted(built)


def _user_error(what: str, exc: BaseException, path: Path) -> BuilderError:
    return BuilderError(
        f"{what}: {type(exc).__name__}: {str(exc)[:300]}",
        file=f"{path.name}:{user_line(exc, path)}" if user_line(exc, path) else str(path),
        hint="Fix the code or the constructor arguments and import again.",
    )


def user_line(exc: BaseException, path: Path) -> int | None:
    """The last line of the user's file in the exception's traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return frames[-1].lineno if frames else None
