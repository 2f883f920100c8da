"""python -m builder import: literal-only targets, every problem in one error, refusing a
graph that computes something else, tied weights, tensor ops and the subprocess limit."""

from __future__ import annotations

import json
import textwrap

import pytest

from builder.cli import main
from builder.errors import BuilderError
from builder.importer import MismatchError, import_file
from builder.importer.sandbox import import_source
from builder.importer.target import parse_target


def write(tmp_path, code: str, name: str = "model.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


TIED = """
from torch import nn


class TiedLM(nn.Module):
    def __init__(self, ntoken=50, d=16):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, d)
        self.rnn = nn.LSTM(d, d, batch_first=True)
        self.decoder = nn.Linear(d, ntoken)
        self.decoder.weight = self.encoder.weight

    def forward(self, tokens):
        output, _ = self.rnn(self.encoder(tokens))
        return self.decoder(output)
"""


def test_target_reads_a_constructor_call_with_literal_arguments():
    target = parse_target('model.py:RNNModel("LSTM", 1000, 200, dropout=0.5, sizes=(1, 2))')
    assert target.file.name == "model.py"
    assert target.class_name == "RNNModel"
    assert target.args == ("LSTM", 1000, 200)
    assert target.kwargs == {"dropout": 0.5, "sizes": (1, 2)}


@pytest.mark.parametrize(
    "expr",
    ["__import__('os').system('echo hi')", "Net(open('x'))", "Net(*args)", "a.b.Net()", "Net("],
)
def test_target_refuses_anything_but_a_class_and_literals(expr):
    with pytest.raises(BuilderError) as err:
        parse_target(f"model.py:{expr}")
    assert err.value.hint and "literal" in str(err.value) + err.value.hint


def test_every_unmappable_part_is_reported_at_once_with_its_line(tmp_path):
    path = write(
        tmp_path,
        """
        import torch
        from torch import nn


        class Odd(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.shrink = nn.Hardshrink()

            def forward(self, x):
                x = torch.cumsum(self.fc(x), 1)
                x = self.shrink(x)
                return x.flip(1)
        """,
    )
    with pytest.raises(BuilderError) as err:
        import_file(f"{path}:Odd", [(4,)])
    text = str(err.value)
    assert "3 part(s)" in text
    assert "model.py:13 `x = torch.cumsum(self.fc(x), 1)`" in text
    assert "shrink (nn.Hardshrink) at model.py:14" in text
    assert "model.py:15 `return x.flip(1)`" in text
    assert "reads" not in text  # no follow-on complaints about the values they feed


def test_a_graph_that_computes_something_else_is_refused(tmp_path, capsys):
    # export specialises the branch on the batch size it ran with (2); the check runs 3.
    path = write(
        tmp_path,
        """
        from torch import nn


        class BatchDependent(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 2)

            def forward(self, x):
                return self.fc(x) if x.shape[0] == 2 else self.fc(x).relu()
        """,
    )
    with pytest.raises(MismatchError) as err:
        import_file(f"{path}:BatchDependent", [(3,)])
    assert err.value.result.comparison.max_diff > 1e-5

    out = tmp_path / "graph.json"
    code = main(["import", f"{path}:BatchDependent", "--input-shape", "3", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 1 and not out.exists()
    assert json.loads(captured.out.strip().splitlines()[-1])["matched"] is False
    assert "refusing a silently different graph" in captured.err


def test_cli_writes_the_graph_and_ends_with_one_json_line(tmp_path, capsys):
    path = write(tmp_path, TIED)
    out = tmp_path / "graph.json"
    code = main(
        [
            "import",
            f"{path}:TiedLM(50, 16)",
            "--input-shape",
            "7",
            "--dtype",
            "int64",
            "-o",
            str(out),
        ]
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out.exists()
    assert summary == {
        "nodes": 4,
        "params": 3026,  # the shared 50x16 weight counted once, as torch counts it
        "original_params": 3026,
        "output": str(out),
        "matched": True,
        "max_diff": summary["max_diff"],
        "init_notes": [],
    }
    assert summary["max_diff"] <= 1e-5
    graph = json.loads(out.read_text())
    decoder = next(n for n in graph["nodes"] if n["id"] == "decoder")
    assert decoder["params"]["tie_weight_to"] == "encoder"
    assert all("pos" in n for n in graph["nodes"])  # laid out


def test_tensor_ops_split_ports_and_shared_outputs_import_exactly(tmp_path):
    path = write(
        tmp_path,
        """
        import math

        import torch
        import torch.nn.functional as F
        from torch import nn


        class Attention(nn.Module):
            def __init__(self, d=8):
                super().__init__()
                self.qkv = nn.Linear(d, 3 * d)
                self.d = d

            def forward(self, x):
                q, k, v = self.qkv(x).chunk(3, dim=-1)
                scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(self.d)
                out = torch.bmm(F.softmax(scores, dim=-1), v)
                pooled = out.mean(dim=(1, 2), keepdim=True).squeeze(-1)
                return out, torch.exp(0.5 * pooled) - 1, pooled
        """,
    )
    result = import_file(f"{path}:Attention", [(5, 8)])
    arch = result.arch
    types = {arch.type_of(n) for n in arch.node_ids}
    assert {"chunk", "matmul", "transpose", "div", "bmm", "mean", "squeeze", "exp"} <= types
    assert [arch.type_of(n) for n in arch.output_nodes()] == ["Output"] * 3
    assert result.comparison.matched


def test_the_app_import_runs_in_a_subprocess_under_a_time_limit():
    code = "import time\ntime.sleep(30)\n"
    with pytest.raises(BuilderError, match="longer than 1 s"):
        import_source(code, "Net", [(4,)], timeout=1)


def test_a_subprocess_import_error_comes_back_as_a_message():
    with pytest.raises(BuilderError, match=r"'Missing' is not an nn\.Module class"):
        import_source("from torch import nn\n", "Missing", [(4,)])


def test_functional_activations_and_a_resize_to_a_size_import_exactly(tmp_path):
    path = write(
        tmp_path,
        """
        import torch.nn.functional as F
        from torch import nn


        class Acts(nn.Module):
            def forward(self, x):
                y = F.glu(F.relu6(F.hardswish(F.mish(F.softplus(x, beta=2.0)))), dim=1)
                y = F.interpolate(y, size=(16, 16), mode="bilinear", align_corners=True)
                return F.pixel_shuffle(F.hardsigmoid(y), 2)
        """,
    )
    result = import_file(f"{path}:Acts", [(8, 8, 8)])
    arch = result.arch
    types = [arch.type_of(n) for n in arch.topological_order()]
    assert types[1:] == [
        "Softplus", "Mish", "Hardswish", "ReLU6", "GLU", "Upsample", "Hardsigmoid", "PixelShuffle"
    ]  # fmt: skip
    upsample = next(n for n in arch.node_ids if arch.type_of(n) == "Upsample")
    assert arch.params_of(upsample)["scale_factor"] == 2.0
    assert arch.params_of(upsample)["align_corners"] is True
    assert result.comparison.matched


def test_a_whole_learned_position_table_added_to_the_embeddings_imports_exactly(tmp_path):
    # ViT / GPT style: `x + self.pos` with pos an nn.Parameter of (1, length, dim), no slice.
    path = write(
        tmp_path,
        """
        import torch
        from torch import nn


        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(50, 16)
                self.pos = nn.Parameter(torch.randn(1, 10, 16))
                self.head = nn.Linear(16, 3)

            def forward(self, x):
                return self.head((self.emb(x) + self.pos).mean(dim=1))
        """,
    )
    result = import_file(f"{path}:Encoder", [(10,)], ["int64"])
    arch = result.arch
    assert [arch.type_of(n) for n in arch.topological_order()] == [
        "Input", "Embedding", "PositionalEmbedding", "SequenceMean", "Linear"
    ]  # fmt: skip
    assert arch.params_of("pos")["max_len"] == 10
    assert result.comparison.matched and result.comparison.max_diff == 0


def test_a_vit_class_token_and_its_read_out_import_exactly(tmp_path):
    path = write(
        tmp_path,
        """
        import torch
        from torch import nn


        class TinyViT(nn.Module):
            def __init__(self):
                super().__init__()
                self.patch = nn.Conv2d(1, 16, 4, 4)
                self.cls = nn.Parameter(torch.randn(1, 1, 16))
                self.pos = nn.Parameter(torch.randn(1, 5, 16))
                self.block = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
                self.head = nn.Linear(16, 10)

            def forward(self, x):
                x = self.patch(x).flatten(2).transpose(1, 2)
                x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
                return self.head(self.block(x)[:, 0])
        """,
    )
    result = import_file(f"{path}:TinyViT", [(1, 8, 8)])
    arch = result.arch
    types = [arch.type_of(n) for n in arch.topological_order()]
    assert types[-5:] == [
        "ClassToken", "PositionalEmbedding", "TransformerEncoderLayer", "SequenceMean", "Linear"
    ]  # fmt: skip
    read_out = next(n for n in arch.node_ids if arch.type_of(n) == "SequenceMean")
    assert arch.params_of(read_out)["reduce"] == "first"
    assert result.comparison.matched and result.comparison.max_diff <= 1e-6


def test_torch_max_over_a_dim_imports_its_values_and_refuses_its_indices(tmp_path):
    path = write(
        tmp_path,
        """
        import torch
        from torch import nn


        class MaxOverTime(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv1d(4, 8, 3, padding=1)
                self.fc = nn.Linear(8, 2)

            def forward(self, x):
                return self.fc(torch.max(self.conv(x), dim=2)[0])


        class ArgMax(nn.Module):
            def forward(self, x):
                values, indices = torch.max(x, dim=2)
                return values + indices.float()
        """,
    )
    result = import_file(f"{path}:MaxOverTime", [(4, 12)])
    pooled = next(n for n in result.arch.node_ids if result.arch.type_of(n) == "SequenceMean")
    assert result.arch.params_of(pooled) == {"dim": 2, "reduce": "max"}
    assert result.comparison.matched
    with pytest.raises(BuilderError, match=r"indices of torch\.max"):
        import_file(f"{path}:ArgMax", [(4, 12)])


def test_an_lstm_cell_passes_its_cell_state_through_the_c_port(tmp_path):
    path = write(
        tmp_path,
        """
        from torch import nn


        class Cell(nn.Module):
            def __init__(self):
                super().__init__()
                self.cell = nn.LSTMCell(8, 16)
                self.out = nn.Linear(16, 4)

            def forward(self, x, h, c):
                h, c = self.cell(x, (h, c))
                return self.out(h), c
        """,
    )
    result = import_file(f"{path}:Cell", [(8,), (16,), (16,)])
    arch = result.arch
    assert arch.inputs_of("cell") == ["x", "h", "c"]
    assert result.comparison.matched and result.comparison.params == 1732


def test_a_model_file_may_import_its_neighbours(tmp_path):
    write(
        tmp_path,
        """
        from torch import nn


        class Block(nn.Sequential):
            def __init__(self, n):
                super().__init__(nn.Linear(n, n), nn.Tanh())
        """,
        name="blocks.py",
    )
    path = write(
        tmp_path,
        """
        from blocks import Block
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = Block(6)

            def forward(self, x):
                return self.body(x)
        """,
    )
    result = import_file(f"{path}:Net", [(6,)])
    assert [result.arch.type_of(n) for n in result.arch.node_ids] == ["Input", "Linear", "Tanh"]
    assert result.sources == {"body_0": "body.0", "body_1": "body.1"}


def test_a_zero_initial_state_made_in_forward_is_the_default_state(tmp_path):
    # The pattern of many tutorials: h0 = torch.zeros(layers, N, hidden) inside forward.
    path = write(
        tmp_path,
        """
        import torch
        from torch import nn


        class RNN(nn.Module):
            def __init__(self, input_size=28, hidden_size=32, num_layers=2, num_classes=10):
                super().__init__()
                self.hidden_size, self.num_layers = hidden_size, num_layers
                self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
                self.fc = nn.Linear(hidden_size, num_classes)

            def forward(self, x):
                h0 = torch.zeros(self.num_layers, x.size(0), self.hidden_size).to(x.device)
                c0 = torch.zeros(self.num_layers, x.size(0), self.hidden_size).to(x.device)
                out, _ = self.lstm(x, (h0, c0))
                return self.fc(out[:, -1, :])
        """,
    )
    result = import_file(f"{path}:RNN", [(28, 28)])
    arch = result.arch
    assert arch.inputs_of("lstm") == ["x"]
    assert arch.params_of("lstm")["return"] == "last"  # out[:, -1, :] folded in
    assert result.comparison.matched


FUNCTIONAL_NORMS = """
import torch.nn.functional as F
from torch import nn


class LayerNorm2d(nn.LayerNorm):
    # ConvNeXt's channels-first LayerNorm: permute, normalise the channels, permute back
    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 4, stride=4), LayerNorm2d(8, eps=1e-6))
        self.fc = nn.Linear(8, 8)
        self.w = nn.Parameter(torch.ones(8))

    def forward(self, x):
        x = self.stem(x).mean([2, 3])
        return F.layer_norm(self.fc(x), (8,), eps=1e-6)


class Stray(Net):
    def forward(self, x):
        return F.layer_norm(x.mean([2, 3]), (3,), self.w[:3], None)
"""


def test_functional_layer_norm_with_its_modules_weights_imports_as_that_layer(tmp_path):
    path = write(tmp_path, "import torch\n" + textwrap.dedent(FUNCTIONAL_NORMS))
    result = import_file(f"{path}:Net", [(3, 16, 16)])
    arch = result.arch
    assert result.comparison.matched and result.comparison.max_diff == 0.0
    assert arch.type_of("stem_1") == "LayerNorm" and arch.params_of("stem_1")["eps"] == 1e-6
    assert result.sources["stem_1"] == "stem.1"  # owns stem.1.weight and stem.1.bias
    plain = next(n for n in arch.node_ids if arch.type_of(n) == "LayerNorm" and n != "stem_1")
    assert arch.params_of(plain)["elementwise_affine"] is False
    with pytest.raises(BuilderError, match="not one module's own `weight` and `bias`"):
        import_file(f"{path}:Stray", [(3, 16, 16)])


CONVNEXT_BLOCK = """
import torch
from torch import nn


class Block(nn.Module):
    # ConvNeXt (Liu et al., 2022): depthwise 7x7, channels-last LayerNorm and MLP, layer scale
    def __init__(self, dim=8):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(0.5 * torch.ones(dim))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)
"""


def test_a_convnext_block_imports_with_per_position_linears_and_its_layer_scale(tmp_path):
    result = import_file(f"{write(tmp_path, CONVNEXT_BLOCK)}:Block", [(8, 6, 6)])
    arch = result.arch
    assert result.comparison.matched and result.comparison.max_diff == 0.0
    assert arch.params_of("pwconv1")["per_position"] is True
    assert arch.type_of("gamma") == "LayerScale"
    assert arch.params_of("gamma")["channels"] == "last" and arch.params_of("gamma")["init"] == 0.5
    assert result.sources["gamma"] == "gamma"
