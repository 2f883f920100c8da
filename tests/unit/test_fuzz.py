"""Fuzz the loader and code generator: every input builds or raises BuilderError, nothing else.

Graph files are untrusted, so junk JSON, hostile ids and names, random params and random
wiring must never crash the core with another exception or put their text into the code.
"""

from __future__ import annotations

import ast
import contextlib
import json

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.codegen import generate_source
from builder.compile import compile_model, example_inputs
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.layers import REGISTRY
from builder.shapes import INTERNAL_ERROR, analyse

HOSTILE = [
    "__import__('os').system('echo pwned')",
    'a"; import os; "',
    "x\nimport os",
    "self",
    "class",
    "torch",
    "__init__",
    "",
    "é",
    "\x00",
    "a" * 100,
    "1abc",
    "forward",
]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
node_ids = st.sampled_from(["x", "a", "b", "conv", "fc", "h", "out", *HOSTILE]) | st.from_regex(
    r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True
)
small_ints = st.integers(min_value=-2, max_value=12)


def _param_value(param):
    """Mostly sensible values of the param's kind, sometimes junk of another kind."""
    by_kind = {
        "int": small_ints,
        "float": st.floats(min_value=-0.5, max_value=3.0) | st.sampled_from([float("nan"), 1e308]),
        "bool": st.booleans(),
        "choice": st.sampled_from(param.choices or (None,)),
        "int_or_tuple": small_ints | st.lists(small_ints, min_size=1, max_size=3),
        "shape": st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=3),
        "ints": st.lists(small_ints, max_size=4),
        "text": st.sampled_from(["x", "a", "normal(0, 0.02)", "zeros", "normal(1, 2, 3)"]),
    }
    junk = json_scalars | st.sampled_from(HOSTILE)
    return st.one_of(by_kind[param.kind], by_kind[param.kind], by_kind[param.kind], junk)


@st.composite
def graph_documents(draw):
    """A graph JSON v1 document: random layers, random (mostly forward) edges, some junk."""
    types = draw(st.lists(st.sampled_from(sorted(REGISTRY)), min_size=1, max_size=8))
    types = ["Input", *types]
    ids = draw(st.lists(node_ids, min_size=len(types), max_size=len(types)))
    nodes = []
    for node_id, type_name in zip(ids, types, strict=True):
        spec = REGISTRY[type_name]
        chosen = draw(st.lists(st.sampled_from(spec.params), max_size=3)) if spec.params else []
        params = {p.name: draw(_param_value(p)) for p in chosen}
        if type_name == "Input" and draw(st.booleans()):
            params["shape"] = draw(st.lists(st.integers(1, 10), min_size=1, max_size=3))
            params["dtype"] = draw(st.sampled_from(["float32", "int64"]))
        node = {"id": node_id, "type": type_name, "params": params}
        if draw(st.integers(0, 9)) == 0:
            node[draw(st.sampled_from(["pos", "colour", "type"]))] = draw(json_values)
        nodes.append(node)
    edges = []
    for target in range(1, len(ids)):
        for source in draw(st.lists(st.integers(0, len(ids) - 1), max_size=2)):
            edges.append({"source": ids[source], "target": ids[target]})
    if draw(st.integers(0, 9)) == 0:
        edges.append(
            {"source": draw(node_ids), "target": draw(node_ids), "target_port": draw(json_scalars)}
        )
    doc = {
        "format": "layercraft",
        "version": 1,
        "name": draw(st.sampled_from(["net", *HOSTILE])),
        "nodes": nodes,
        "edges": edges,
    }
    return doc


def _check_generated_module(source: str) -> None:
    """The source is one docstring, torch imports and one class: nothing else can run."""
    tree = ast.parse(source)
    assert isinstance(tree.body[0], ast.Expr)
    assert all(isinstance(n, ast.Import | ast.ImportFrom) for n in tree.body[1:-1])
    assert isinstance(tree.body[-1], ast.ClassDef)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            )
            assert all(name.split(".")[0] == "torch" for name in names)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id in {"super", "len"}, node.func.id  # ClassToken: len(x)


def _build_fully(doc) -> None:
    """Load, analyse, generate, compile and run: each step may refuse only with BuilderError."""
    arch = Architecture.from_json(doc)
    analysis = analyse(arch)
    assert not any(INTERNAL_ERROR in str(err) for err in analysis.errors), analysis.errors
    if not analysis.ok:
        return
    source = generate_source(arch, analysis=analysis)
    _check_generated_module(source)
    if analysis.total_params > 2_000_000 or len(arch.input_nodes()) == 0:
        return  # big but valid: not worth allocating in a fuzz loop
    model = compile_model(arch)
    assert analysis.total_params == sum(p.numel() for p in model.parameters())
    model.eval()
    with torch.no_grad():
        out = model(*example_inputs(arch, batch_size=2))
    outputs = out if isinstance(out, tuple) else (out,)
    expected = [analysis.nodes[n].output_shape for n in arch.output_nodes()]
    assert [tuple(o.shape[1:]) for o in outputs] == expected


@FUZZ
@given(graph_documents())
def test_random_graphs_build_or_raise_builder_error(doc):
    try:
        _build_fully(doc)
    except BuilderError as err:
        assert str(err)  # every refusal has a message to show


@FUZZ
@given(graph_documents())
def test_random_graphs_survive_a_json_text_round_trip(doc):
    try:
        arch = Architecture.from_json(json.dumps(doc))
    except BuilderError:
        return
    assert Architecture.from_json(arch.to_json_string()).to_json() == arch.to_json()


@FUZZ
@given(json_values)
def test_junk_json_values_raise_only_builder_error(value):
    with contextlib.suppress(BuilderError):
        Architecture.from_json(value if isinstance(value, dict) else json.dumps(value))


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_junk_text_raises_only_builder_error(text):
    with contextlib.suppress(BuilderError):
        Architecture.from_json(text)


def test_deeply_nested_json_is_refused_cleanly():
    text = "[" * 100_000 + "]" * 100_000
    try:
        Architecture.from_json(text)
    except BuilderError as err:
        assert "JSON" in str(err) or "object" in str(err)


def _valid_value(param):
    """A value inside the param's declared range, kept small so models stay tiny."""
    low = int(param.min) if param.min is not None else 0
    high = min(int(param.max) if param.max is not None else 8, max(low, 8))
    ints = st.integers(min_value=max(low, -2), max_value=max(high, low))
    if param.kind == "int":
        return ints
    if param.kind == "float":
        top = min(param.max if param.max is not None else 2.0, 2.0)
        return st.floats(min_value=param.min or 0.0, max_value=top, exclude_max=param.name == "p")
    if param.kind == "bool":
        return st.booleans()
    if param.kind == "choice":
        return st.sampled_from(param.choices)
    if param.kind == "int_or_tuple":
        return ints | st.lists(ints, min_size=2, max_size=2)
    if param.kind == "text":
        return st.sampled_from(["zeros", "normal(0, 0.02)", "n1", "n0"])
    if param.kind == "ints":
        return st.lists(st.integers(-1, 3), max_size=4)
    return st.lists(st.integers(1, 6), min_size=1, max_size=3)


@st.composite
def plausible_graphs(draw):
    """Valid-looking layers with in-range params, mostly chained, some branches and merges."""
    dtype = draw(st.sampled_from(["float32", "float32", "int64"]))
    shape = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3))
    arch_doc = {"format": "layercraft", "version": 1, "name": "fuzz", "nodes": [], "edges": []}
    arch_doc["nodes"].append(
        {"id": "x", "type": "Input", "params": {"shape": shape, "dtype": dtype}}
    )
    layer_types = sorted(t for t in REGISTRY if t != "Input")
    for i in range(draw(st.integers(1, 6))):
        type_name = draw(st.sampled_from(layer_types))
        spec = REGISTRY[type_name]
        chosen = draw(st.lists(st.sampled_from(spec.params), max_size=3)) if spec.params else []
        params = {p.name: draw(_valid_value(p)) for p in chosen}
        node_id = f"n{i}"
        arch_doc["nodes"].append({"id": node_id, "type": type_name, "params": params})
        earlier = [n["id"] for n in arch_doc["nodes"][:-1]]
        sources = [earlier[-1]]
        if spec.max_inputs is None:
            sources.append(draw(st.sampled_from(earlier)))
        elif len(earlier) > 1 and draw(st.integers(0, 4)) == 0:
            sources = [draw(st.sampled_from(earlier))]
        for src in dict.fromkeys(sources):
            arch_doc["edges"].append({"source": src, "target": node_id})
    return arch_doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plausible_graphs())
def test_plausible_graphs_build_run_and_match_inferred_shapes(doc):
    try:
        _build_fully(doc)
    except BuilderError as err:
        assert str(err)
