"""One-click fixes are offered only when the fixed copy analyses clean."""

from __future__ import annotations

from builder.data import load_dataset
from builder.fixes import node_fixes
from builder.shapes import analyse
from builder.templates import load_template


def lenet_without_flatten():
    arch = load_template("lenet5")
    arch.remove_node("flatten1")
    arch.connect("pool2", "fc1")
    return arch


def test_missing_flatten_gets_an_insert_flatten_fix_that_leaves_the_graph_clean():
    arch = lenet_without_flatten()
    fix = node_fixes(arch)["fc1"]
    assert fix.id == "flatten" and analyse(fix.arch).ok
    assert not analyse(arch).ok  # the original is untouched
    (flat,) = fix.arch.inputs_of("fc1")
    assert fix.arch.type_of(flat) == "Flatten" and fix.arch.inputs_of(flat) == ["pool2"]


def test_no_fix_is_offered_when_the_fixed_copy_would_still_be_broken():
    arch = lenet_without_flatten()
    arch.update_params("conv2", kernel_size=20)  # a second, unrelated error
    assert "fc1" not in node_fixes(arch)
    # LeNet-5 on 8x8 digits: resizing the Input would break conv2, so nothing is offered.
    assert node_fixes(load_template("lenet5"), dataset=load_dataset("digits")) == {}


def test_dataset_fix_resizes_the_output_layer_for_the_classes():
    arch = load_template("mlp_digits")
    arch.update_params("fc2", out_features=3)
    fix = node_fixes(arch, dataset=load_dataset("digits"))["fc2"]
    assert fix.id == "dataset" and fix.arch.params_of("fc2")["out_features"] == 10
