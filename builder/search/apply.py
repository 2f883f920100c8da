"""apply_trial: one point of the search space made concrete as a graph and training settings."""

from __future__ import annotations

from typing import Any

from builder.errors import BuilderError
from builder.search.space import SearchSpace, parse_space
from builder.sharing import follow_copies


def apply_trial(arch, config, params: dict[str, Any], space: SearchSpace | None = None):
    """(Architecture, TrainConfig) for one trial's params; the inputs are left unchanged.

    Order matters: types and param values first (so repeated copies inherit them), then
    blocks are repeated, then optional nodes (and their copies) are skipped. The result has
    no search section: it is the plain graph the trial trains. A params dict missing a
    searched name keeps the graph's own value there.
    """
    from builder.training import TrainConfig

    space = space if space is not None else parse_space(arch, getattr(arch, "search", None))
    out = arch.copy()
    out.search = None
    for node_id, dim in space.types.items():
        if dim.name in params:
            _set_type(out, node_id, params[dim.name])
    for (node_id, name), dim in space.node_params.items():
        if dim.name in params:
            out.update_params(node_id, **{name: params[dim.name]})
    copies: dict[str, list[str]] = {}
    for repeat in space.repeats.values():
        times = int(params.get(f"{repeat.name}.repeat", 1))
        if not repeat.low <= times <= repeat.high:
            raise BuilderError(
                f"{times} repeats is outside {repeat.low}..{repeat.high}",
                field=f"repeat.{repeat.name}",
            )
        for node_id, made in _repeat_block(out, list(repeat.nodes), times).items():
            copies.setdefault(node_id, []).extend(made)
    for node_id, dim in space.optional.items():
        if not params.get(dim.name, True):
            for target in [node_id, *copies.get(node_id, [])]:
                skip_node(out, target)
    values = config.to_dict()
    values.update(
        {name: params[dim.name] for name, dim in space.train.items() if dim.name in params}
    )
    return out, TrainConfig.from_dict(values)


def skip_node(arch, node_id: str) -> None:
    """Remove a one-input node and feed its input straight to its outputs (same ports)."""
    (source,) = arch.inputs_of(node_id)
    targets = [(dst, arch.inputs_of(dst).index(node_id)) for dst in arch.outputs_of(node_id)]
    arch.remove_node(node_id)
    for dst, port in targets:
        arch.connect(source, dst, port)


def _set_type(arch, node_id: str, type_name: str) -> None:
    """Swap a node's layer type in place, keeping its id, params, edges and input order."""
    from builder.graph import validate_params

    node = arch.graph.nodes[node_id]
    node["params"] = validate_params(type_name, node["params"], node_id)
    node["type"] = type_name


def _repeat_block(arch, nodes: list[str], times: int) -> dict[str, list[str]]:
    """Chain times-1 copies of the block after it; returns node -> ids of its copies."""
    made: dict[str, list[str]] = {n: [] for n in nodes}
    last = nodes[-1]
    downstream = [(dst, arch.inputs_of(dst).index(last)) for dst in arch.outputs_of(last)]
    for dst, _ in downstream:
        arch.disconnect(last, dst)
    tail = last
    for k in range(2, times + 1):
        fresh = {}
        for node_id in nodes:
            copy_id = fresh[node_id] = _fresh(arch, f"{node_id}_r{k}")
            arch.add_node(arch.type_of(node_id), arch.user_params_of(node_id), id=copy_id)
            if not arch.trainable_of(node_id):
                arch.set_trainable(copy_id, False)  # a copy of a frozen layer stays frozen
            arch.connect(tail, copy_id)
            made[node_id].append(copy_id)
            tail = copy_id
        follow_copies(arch, fresh)  # a repeated block's shared layer is its own copy's
    for dst, port in downstream:
        arch.connect(tail, dst, port)
    return made


def _fresh(arch, wanted: str) -> str:
    if wanted not in arch and len(wanted) <= 64:
        return wanted
    return arch.fresh_id(wanted[:56] + "_")


def apply_best(arch, params: dict[str, Any]):
    """The graph with a trial's values written onto it ("Apply best"), as a new Architecture.

    Values of node params and layer types are written in place and stay searchable; the
    structural choices (optional nodes, repeated blocks) are settled by the trial, so they
    leave the search section. Training settings are not part of the graph.
    """
    from builder.layout import apply_layout
    from builder.search.space import parse_space
    from builder.training import TrainConfig

    space = parse_space(arch, getattr(arch, "search", None))
    new, _ = apply_trial(arch, TrainConfig(), params, space)
    if set(new.node_ids) - set(arch.node_ids):
        apply_layout(new)  # repeated copies need places on the canvas
    section = {k: v for k, v in (arch.search or {}).items() if k not in ("optional", "repeat")}
    for key in ("params", "types"):
        if key in section:
            section[key] = {n: v for n, v in section[key].items() if n in new}
    new.search = {k: v for k, v in section.items() if v not in ({}, None)} or None
    try:
        parse_space(new, new.search)
    except BuilderError:
        new.search = None  # a kept entry no longer fits the settled graph: drop the section
    return new
