"""Recurrent layers (batch-first), their initial state inputs and final state ports, and cells.

States are batch-first in the graph like every tensor, (layers x directions, hidden) per
sample; the generated code transposes them to and from torch's (layers, N, hidden).
"""

from __future__ import annotations

from .base import LayerSpec, Param, ShapeError, expect_rank, fmt_shape, module_call

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
SEQUENCE_HINT = (
    "Recurrent and attention layers take (sequence, features); add an Embedding or Reshape first."
)


STATE_NAMES = {"RNN": ("h0",), "GRU": ("h0",), "LSTM": ("h0", "c0")}
STATE_HINT = (
    "A state is batch-first (layers x directions, hidden_size): connect the h_n (or c_n) port "
    "of a layer like this one, or an Input of that shape."
)


def _state_shape(p) -> tuple[int, int]:
    """Shape of h0/h_n (and c0/c_n) per sample, batch first: (layers x directions, hidden)."""
    return (p["num_layers"] * (2 if p["bidirectional"] else 1), p["hidden_size"])


def _check_states(cls, shapes, wanted):
    states = shapes[1:]
    names = STATE_NAMES.get(cls) or CELL_STATES[cls]
    if states and len(states) != len(names):
        raise ShapeError(
            f"takes its initial state as {' and '.join(names)} together, not {len(states)} of them",
            f"Connect {', '.join(names)} in that order after the input.",
        )
    for name, shape in zip(names, states, strict=False):
        if tuple(shape) != tuple(wanted):
            raise ShapeError(
                f"{name} must be {fmt_shape(wanted)} per sample but is {fmt_shape(shape)}",
                STATE_HINT,
            )


def _recurrent_output(cls):
    def rule(shapes, p):
        length, _ = expect_rank(shapes[:1], (2,), "a (sequence, features) input", SEQUENCE_HINT)
        _check_states(cls, shapes, _state_shape(p))
        width = p["hidden_size"] * (2 if p["bidirectional"] else 1)
        return (width,) if p["return"] == "last" else (length, width)

    return rule


def _recurrent_ports(cls):
    def ports(shapes, p):
        outputs = {"output": _recurrent_output(cls)(shapes, p), "h_n": _state_shape(p)}
        if cls == "LSTM":
            outputs["c_n"] = _state_shape(p)
        return outputs

    return ports


def _recurrent_params(cls):
    def count(shapes, p):
        gates, hidden = GATES[cls], p["hidden_size"]
        directions = 2 if p["bidirectional"] else 1
        total, features = 0, shapes[0][-1]
        for _ in range(p["num_layers"]):
            per_direction = gates * hidden * (features + hidden) + (
                2 * gates * hidden if p["bias"] else 0
            )
            total += per_direction * directions
            features = hidden * directions
        return total

    return count


def _recurrent_macs(cls):
    def count(shapes, out, p):
        return shapes[0][0] * _recurrent_params(cls)(shapes, p)

    return count


def _recurrent_forward(cls):
    def emit(attr, xs, p, read, shapes):
        # torch keeps the batch in dim 1 of a state even with batch_first; the graph keeps
        # every tensor batch-first, so states are transposed on the way in and out.
        lines, state_in = [], ""
        if len(xs) > 1:
            names = [f"{attr}_{name}" for name in STATE_NAMES[cls]]
            for name, x in zip(names, xs[1:], strict=True):
                lines.append(f"{name} = {x}.transpose(0, 1).contiguous()  # (layers, N, hidden)")
            state_in = f", ({', '.join(names)})" if cls == "LSTM" else f", {names[0]}"
        outs = [read.get("h_n"), read.get("c_n")] if cls == "LSTM" else [read.get("h_n")]
        if any(outs):
            state = ", ".join(o or "_" for o in outs)
            state = f"({state})" if cls == "LSTM" else state
            lines.append(f"{{out}}, {state} = self.{attr}({xs[0]}{state_in})")
            lines += [f"{o} = {o}.transpose(0, 1)  # batch first" for o in outs if o]
        else:
            call = f"self.{attr}({xs[0]}{state_in})"
            lines.append(f"{{out}}, _ = {call}  # every time step; _ is the final state")
        if p["return"] == "last":
            lines.append("{out} = {out}[:, -1]  # last time step")
        return lines

    return emit


def recurrent_spec(cls, help_text):
    params = (
        Param("hidden_size", "int", 64, "Size of the hidden state.", min=1),
        Param("num_layers", "int", 1, "Recurrent layers stacked on each other.", min=1, max=16),
        Param("bidirectional", "bool", False, "Also read the sequence backwards."),
        Param("dropout", "float", 0.0, "Dropout between stacked layers.", min=0.0, max=1.0),
        Param("bias", "bool", True, "Learn additive biases."),
        Param(
            "return",
            "choice",
            "last",
            "last: the final time step only (for classifiers); sequence: every step.",
            choices=("last", "sequence"),
        ),
    )
    if cls == "RNN":
        params += (NONLINEARITY,)
    ctor_params = tuple(q for q in params[1:] if q.name != "return")

    def emit_init(shapes, p):
        call = module_call(cls, [shapes[0][-1], p["hidden_size"]], p, ctor_params)
        return call[:-1] + ", batch_first=True)"

    return LayerSpec(
        type=cls,
        category="sequence",
        help=help_text + " Optional inputs: the initial state; ports h_n (c_n): the final one.",
        params=params,
        infer_shape=_recurrent_output(cls),
        emit_init=emit_init,
        emit_forward_ports=_recurrent_forward(cls),
        output_ports=_recurrent_ports(cls),
        count_params=_recurrent_params(cls),
        count_macs=_recurrent_macs(cls),
        id_prefix=cls.lower(),
        max_inputs=1 + len(STATE_NAMES[cls]),
        input_names=("input", *STATE_NAMES[cls]),
    )


NONLINEARITY = Param(
    "nonlinearity", "choice", "tanh", "The recurrence's activation.", choices=("tanh", "relu")
)
CELL_STATES = {"RNNCell": ("h",), "GRUCell": ("h",), "LSTMCell": ("h", "c")}
CELL_GATES = {"RNNCell": 1, "GRUCell": 3, "LSTMCell": 4}


def _cell_shape(cls):
    def rule(shapes, p):
        expect_rank(shapes[:1], (1,), "a (features) input: one time step", None)
        _check_states(cls, shapes, (p["hidden_size"],))
        return (p["hidden_size"],)

    return rule


def _cell_forward(cls):
    def emit(attr, xs, p, read, shapes):
        state = ""
        if len(xs) > 1:
            state = f", ({xs[1]}, {xs[2]})" if cls == "LSTMCell" else f", {xs[1]}"
        call = f"self.{attr}({xs[0]}{state})"
        if cls == "LSTMCell":
            return [f"{{out}}, {read.get('c', '_')} = {call}"]
        return call

    return emit


def cell_spec(cls, help_text):
    params = (
        Param("hidden_size", "int", 64, "Size of the hidden state.", min=1),
        Param("bias", "bool", True, "Learn additive biases."),
    )
    if cls == "RNNCell":
        params += (NONLINEARITY,)
    gates = CELL_GATES[cls]
    return LayerSpec(
        type=cls,
        category="sequence",
        help=help_text,
        params=params,
        infer_shape=_cell_shape(cls),
        emit_init=lambda s, p: module_call(cls, [s[0][-1], p["hidden_size"]], p, params[1:]),
        emit_forward_ports=_cell_forward(cls),
        output_ports=(
            (lambda s, p: {"h": (p["hidden_size"],), "c": (p["hidden_size"],)})
            if cls == "LSTMCell"
            else None
        ),
        count_params=lambda s, p: (
            gates * p["hidden_size"] * (s[0][-1] + p["hidden_size"])
            + (2 * gates * p["hidden_size"] if p["bias"] else 0)
        ),
        count_macs=lambda s, out, p: gates * p["hidden_size"] * (s[0][-1] + p["hidden_size"]),
        id_prefix=cls.lower(),
        max_inputs=1 + len(CELL_STATES[cls]),
        input_names=("input", *CELL_STATES[cls]),
    )
