"""Importing the inits a constructor makes, however it makes them: plain statements, a loop
over self.modules(), self.apply(weights_init), tensor methods; torch's own defaults are not
the user's, and an init with no setting is reported instead of dropped silently."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
from torch import nn

from builder.cli import main
from builder.compile import compile_model
from builder.errors import BuilderError
from builder.importer import import_file
from builder.importer.inits import watching_inits

DCGAN_STYLE = """
import torch
from torch import nn


def weights_init(m):
    # pytorch/examples dcgan/main.py
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Disc(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Linear(4 * 6 * 6, 1)
        self.apply(weights_init)

    def forward(self, x):
        return self.head(torch.flatten(torch.relu(self.bn(self.conv(x))), 1))
"""

LOOP_STYLE = """
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 3)
        self.emb_like = nn.Linear(3, 3)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.constant_(m.bias, 0)
        nn.init.normal_(self.fc2.weight, std=0.01)  # a later init wins
        self.emb_like.weight.data.uniform_(-0.1, 0.1)
        self.emb_like.bias.data.zero_()

    def forward(self, x):
        return self.emb_like(self.fc2(self.fc1(x)))
"""

KAIMING_FAN_OUT = """
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.conv(x)
"""


# The script style of pytorch/examples dcgan/main.py: the model is built, then initialised,
# at the file's top level rather than in its constructor.
SCRIPT_STYLE = (
    DCGAN_STYLE.replace("        self.apply(weights_init)\n", "")
    + """

def make_disc(std):
    disc = Disc()
    nn.init.normal_(disc.head.weight, 0.0, std)
    return disc


netD = Disc()
netD.apply(weights_init)
"""
)


def write(tmp_path, code: str):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


def test_a_weights_init_applied_in_the_constructor_is_read_per_layer(tmp_path):
    result = import_file(f"{write(tmp_path, DCGAN_STYLE)}:Disc", [(1, 8, 8)])
    arch = result.arch
    conv = next(n for n in arch.node_ids if arch.type_of(n) == "Conv2d")
    norm = next(n for n in arch.node_ids if arch.type_of(n) == "BatchNorm2d")
    head = next(n for n in arch.node_ids if arch.type_of(n) == "Linear")
    assert arch.params_of(conv)["weight_init"] == "normal(0, 0.02)"
    assert arch.params_of(conv).get("bias_init") is None  # weights_init leaves it to torch
    assert arch.params_of(norm)["weight_init"] == "normal(1, 0.02)"
    assert arch.params_of(norm)["bias_init"] == "zeros"
    assert arch.params_of(head).get("weight_init") is None  # Linear's default: torch's own
    assert result.init_notes == []
    torch.manual_seed(0)
    weight = compile_model(arch).state_dict()[f"{norm}.weight"]
    assert abs(weight.mean().item() - 1.0) < 0.05 and weight.std().item() < 0.05


def test_a_module_the_file_builds_and_initialises_at_top_level_is_imported_with_its_inits(
    tmp_path,
):
    path = write(tmp_path, SCRIPT_STYLE)
    built = import_file(f"{path}:netD", [(1, 8, 8)]).arch
    conv = next(n for n in built.node_ids if built.type_of(n) == "Conv2d")
    assert built.params_of(conv)["weight_init"] == "normal(0, 0.02)"
    plain = import_file(f"{path}:Disc", [(1, 8, 8)]).arch  # the class alone: no init seen
    assert plain.params_of(conv).get("weight_init") is None


def test_a_function_that_builds_the_model_is_called_with_its_literal_arguments(tmp_path):
    arch = import_file(f"{write(tmp_path, SCRIPT_STYLE)}:make_disc(0.5)", [(1, 8, 8)]).arch
    head = next(n for n in arch.node_ids if arch.type_of(n) == "Linear")
    assert arch.params_of(head)["weight_init"] == "normal(0, 0.5)"


def test_a_name_that_builds_no_module_is_refused_naming_what_the_file_has(tmp_path):
    path = write(tmp_path, SCRIPT_STYLE + "\nnot_a_model = 3\n\ndef helper():\n    return 3\n")
    with pytest.raises(BuilderError) as refused:
        import_file(f"{path}:not_a_model", [(1, 8, 8)])
    assert "Disc, netD" in refused.value.hint
    with pytest.raises(BuilderError, match=r"returned int, not an nn\.Module"):
        import_file(f"{path}:helper()", [(1, 8, 8)])
    with pytest.raises(BuilderError, match=r"is not an nn\.Module class"):
        import_file(f"{path}:netD(2)", [(1, 8, 8)])  # arguments to a built module


def test_a_loop_over_modules_and_tensor_methods_are_read_and_the_last_init_wins(tmp_path):
    result = import_file(f"{write(tmp_path, LOOP_STYLE)}:Net", [(6,)])
    params = {n: result.arch.params_of(n) for n in ("fc1", "fc2", "emb_like")}
    assert params["fc1"]["weight_init"] == "xavier_uniform"
    assert params["fc1"]["bias_init"] == "constant(0)"
    assert params["fc2"]["weight_init"] == "normal(0, 0.01)"
    assert params["emb_like"]["weight_init"] == "uniform(-0.1, 0.1)"
    assert params["emb_like"]["bias_init"] == "zeros"


def test_an_init_with_no_setting_is_reported_and_the_cli_says_so(tmp_path, capsys):
    path = write(tmp_path, KAIMING_FAN_OUT)
    code = main(["import", f"{path}:Net", "--input-shape", "1,6,6", "-o", str(tmp_path / "g.json")])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    [note] = summary["init_notes"]
    assert note.startswith("conv.weight: kaiming_normal_(") and "mode='fan_out'" in note
    nodes = {n["id"]: n for n in json.loads((tmp_path / "g.json").read_text())["nodes"]}
    assert nodes["conv"]["params"].get("weight_init") is None


def test_watching_leaves_torch_as_it_was():
    before = (nn.init.normal_, torch.Tensor.normal_, "zero_" in torch.Tensor.__dict__)
    with watching_inits() as calls:
        layer = nn.Linear(4, 4)  # torch's own init: not the user's
        nn.init.ones_(layer.bias)
    assert [call.text for call in calls] == ["ones"]
    assert (nn.init.normal_, torch.Tensor.normal_, "zero_" in torch.Tensor.__dict__) == before
