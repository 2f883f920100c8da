"""Export then import gives back the same graph and the same code, for every template."""

from __future__ import annotations

import pytest
import torch

from builder.codegen import class_name_for, generate_source
from builder.compile import compile_model, example_inputs
from builder.importer import import_file
from builder.templates import list_templates, load_template


def _stems() -> list[str]:
    return [t if isinstance(t, str) else t[0] for t in list_templates()]


def graph_signature(arch) -> list:
    """Nodes in topological order with type, params and ordered inputs.

    Ids are compared where the code shows them (layers, inputs, values read twice); a node
    the code writes as a chained `x = a + b` has no name in the code for an import to find.
    """
    order = arch.topological_order()
    index = {n: i for i, n in enumerate(order)}
    source = generate_source(arch)
    return [
        (
            n if f"{n} =" in source or f"self.{n}" in source or arch.type_of(n) == "Input" else "",
            arch.type_of(n),
            sorted(arch.params_of(n).items()),
            [index[s] for s in arch.inputs_of(n)],
        )
        for n in order
    ]


@pytest.mark.parametrize("stem", _stems())
def test_template_export_then_import_gives_the_same_graph_and_code(stem, tmp_path):
    template = load_template(stem)
    source = generate_source(template)
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")
    shapes = [tuple(template.params_of(n)["shape"]) for n in template.input_nodes()]
    dtypes = [template.params_of(n)["dtype"] for n in template.input_nodes()]

    result = import_file(f"{path}:{class_name_for(template)}", shapes, dtypes)

    assert graph_signature(result.arch) == graph_signature(template)
    assert generate_source(result.arch) == source
    assert result.comparison.matched and result.comparison.max_diff == 0.0


def test_imported_model_loads_the_original_state_dict_directly(tmp_path):
    template = load_template("lenet5")
    original = compile_model(template)
    path = tmp_path / "model.py"
    path.write_text(original.layercraft_source, encoding="utf-8")
    result = import_file(f"{path}:{class_name_for(template)}", [(1, 32, 32)])

    imported = compile_model(result.arch).eval()
    imported.load_state_dict(original.state_dict())  # same names: no renaming needed
    x = example_inputs(template)[0]
    torch.testing.assert_close(imported(x), original.eval()(x), rtol=0, atol=0)


def test_per_node_weight_init_survives_export_then_import(tmp_path):
    template = load_template("lenet5")
    template.update_params("conv1", weight_init="normal(0, 0.02)", bias_init="zeros")
    template.update_params("fc1", weight_init="uniform(-0.1, 0.1)")
    source = generate_source(template)
    assert "nn.init.normal_(self.conv1.weight, 0.0, 0.02)" in source
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")

    result = import_file(f"{path}:{class_name_for(template)}", [(1, 32, 32)])

    conv1 = result.arch.params_of("conv1")
    assert conv1["weight_init"] == "normal(0, 0.02)" and conv1["bias_init"] == "zeros"
    assert result.arch.params_of("fc1")["weight_init"] == "uniform(-0.1, 0.1)"
    assert generate_source(result.arch) == source


def test_shared_layers_export_then_import_to_the_same_graph_and_code(tmp_path):
    """A greedy decoder's loop (three calls of one GRU) and siamese towers."""
    from tests.unit.test_sharing import DECODER_SOURCE, siamese

    path = tmp_path / "decoder.py"
    path.write_text(DECODER_SOURCE, encoding="utf-8")
    decoder = import_file(f"{path}:Decoder", [(1, 8)]).arch
    for arch, shapes in ((decoder, [(1, 8)]), (siamese(), [(4,), (4,)])):
        source = generate_source(arch)
        path.write_text(source, encoding="utf-8")
        result = import_file(f"{path}:{class_name_for(arch)}", shapes)
        assert graph_signature(result.arch) == graph_signature(arch)
        assert generate_source(result.arch) == source
        assert result.comparison.max_diff == 0.0
