"""Per-node weight initialisation: "normal(0, 0.02)" -> an nn.init call in generated code.

The text comes from a graph file, so it is parsed strictly (a known function name and plain
numbers) and rewritten from the parsed numbers; the text itself never reaches the code.
"""

from __future__ import annotations

import re

from .base import Param

# name -> (nn.init function, how many numbers it takes at most)
INITS = {
    "normal": ("normal_", 2),  # mean, std
    "trunc_normal": ("trunc_normal_", 2),  # mean, std
    "uniform": ("uniform_", 2),  # low, high
    "constant": ("constant_", 1),
    "zeros": ("zeros_", 0),
    "ones": ("ones_", 0),
    "xavier_uniform": ("xavier_uniform_", 1),  # gain
    "xavier_normal": ("xavier_normal_", 1),
    "kaiming_uniform": ("kaiming_uniform_", 1),  # a
    "kaiming_normal": ("kaiming_normal_", 1),
    "orthogonal": ("orthogonal_", 1),  # gain
}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
INIT_PATTERN = rf"({'|'.join(INITS)})(?:\(\s*(?:{_NUMBER}(?:\s*,\s*{_NUMBER})*)?\s*\))?"

INIT_HELP = (
    "How to initialise it, e.g. normal(0, 0.02), uniform(-0.1, 0.1), constant(0), zeros, "
    "xavier_uniform, kaiming_normal; empty: torch's default."
)
WEIGHT_INIT = Param(
    "weight_init", "text", None, INIT_HELP, optional=True, pattern=INIT_PATTERN, in_ctor=False
)
BIAS_INIT = Param(
    "bias_init", "text", None, INIT_HELP, optional=True, pattern=INIT_PATTERN, in_ctor=False
)
INIT_PARAMS = (WEIGHT_INIT, BIAS_INIT)


def parse_init(text: str) -> tuple[str, list[float]]:
    """("normal_", [0.0, 0.02]) from "normal(0, 0.02)"; ValueError when it does not parse."""
    match = re.fullmatch(INIT_PATTERN, text.strip())
    if match is None:
        raise ValueError(f"not an init: {text[:40]!r}")
    function, most = INITS[match.group(1)]
    numbers = [float(n) for n in re.findall(_NUMBER, text[match.end(1) :])]
    if len(numbers) > most:
        raise ValueError(f"{match.group(1)} takes at most {most} numbers")
    return function, numbers


def init_statement(tensor: str, text: str) -> str:
    """`nn.init.normal_(self.conv1.weight, 0.0, 0.02)` for the attribute path `tensor`."""
    function, numbers = parse_init(text)
    args = ", ".join([tensor, *(repr(n) for n in numbers)])
    return f"nn.init.{function}({args})"
