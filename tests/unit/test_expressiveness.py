"""Whole published models, written here as plain PyTorch following their published
architecture (our own code, smaller widths), rebuilt as graphs and compared after a weight
copy: same parameter count, max output difference <= 1e-5, ruff-clean exported code.

Origins: pytorch/examples dcgan/main.py (Discriminator), super_resolution/model.py (Net),
fast_neural_style/neural_style/transformer_net.py (TransformerNet, fewer blocks),
word_language_model/model.py (TransformerModel); milesial/Pytorch-UNet unet_model.py
(UNet, bilinear, at 60x60); pytorch/tutorials seq2seq AttnDecoderRNN (one batched step).
"""

from __future__ import annotations

import math

import torch
from test_layers_torch import TOLERANCE, ruff_clean
from torch import nn
from torch.nn import functional as F

from builder.codegen import generate_source
from builder.compile import compile_model
from builder.graph import Architecture
from builder.shapes import analyse


def build(name, inputs, layers) -> Architecture:
    """inputs: {id: (shape, dtype)}; layers: (id, type, params, [sources]) in order."""
    arch = Architecture(name)
    for node, (shape, dtype) in inputs.items():
        arch.add_node("Input", {"shape": list(shape), "dtype": dtype}, id=node)
    for node, type_name, params, sources in layers:
        arch.add_node(type_name, params, id=node)
        for src in sources:
            arch.connect(src, node)
    return arch


def copy_parameters(source: nn.Module, target: nn.Module) -> None:
    """Parameters in registration order (both define them in the same order)."""
    pairs = list(zip(source.parameters(), target.parameters(), strict=True))
    with torch.no_grad():
        for a, b in pairs:
            assert a.shape == b.shape
            b.copy_(a)


def check_model(arch, reference, inputs, *, graph_inputs=None, outputs=lambda out: out):
    analysis = analyse(arch)
    assert analysis.ok, analysis.errors
    model = compile_model(arch).eval()
    reference.eval()
    assert analysis.total_params == sum(p.numel() for p in reference.parameters())
    copy_parameters(reference, model)
    with torch.no_grad():
        got = model(*(graph_inputs or inputs))
        want = outputs(reference(*inputs))
    assert got.shape == want.shape
    assert (got - want).abs().max().item() <= TOLERANCE
    return model


# ---- DCGAN discriminator: ends in (N,) -------------------------------------------------


class DcganDiscriminator(nn.Module):
    def __init__(self, nc=3, ndf=8):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def dcgan_discriminator_graph(ndf=8) -> Architecture:
    conv_init = {"weight_init": "normal(0, 0.02)"}  # DCGAN's weights_init
    bn_init = {"weight_init": "normal(1, 0.02)", "bias_init": "constant(0)"}
    layers, prev = [], "x"
    for i, (width, norm) in enumerate([(ndf, False), (ndf * 2, True), (ndf * 4, True)]):
        conv = {"out_channels": width, "kernel_size": 4, "stride": 2, "padding": 1}
        layers.append((f"conv{i}", "Conv2d", {**conv, "bias": False, **conv_init}, [prev]))
        prev = f"conv{i}"
        if norm:
            layers.append((f"bn{i}", "BatchNorm2d", bn_init, [prev]))
            prev = f"bn{i}"
        layers.append((f"act{i}", "LeakyReLU", {"negative_slope": 0.2}, [prev]))
        prev = f"act{i}"
    last = {"out_channels": ndf * 8, "kernel_size": 4, "stride": 2, "padding": 1, "bias": False}
    layers += [
        ("conv3", "Conv2d", last, [prev]),
        ("bn3", "BatchNorm2d", {}, ["conv3"]),
        ("act3", "LeakyReLU", {"negative_slope": 0.2}, ["bn3"]),
        ("conv4", "Conv2d", {"out_channels": 1, "kernel_size": 4, "bias": False}, ["act3"]),
        ("sigmoid", "Sigmoid", {}, ["conv4"]),
        ("view", "Reshape", {"shape": [-1]}, ["sigmoid"]),
        ("score", "squeeze", {"dim": 1}, ["view"]),
    ]
    return build("DCGAN discriminator", {"x": ((3, 64, 64), "float32")}, layers)


def test_dcgan_discriminator_matches_and_ends_in_one_score_per_sample():
    x = torch.randn(2, 3, 64, 64)
    model = check_model(dcgan_discriminator_graph(), DcganDiscriminator(), [x])
    assert model(x).shape == (2,)


# ---- super-resolution: PixelShuffle, orthogonal init -----------------------------------


class SuperResolution(nn.Module):
    def __init__(self, upscale=3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, 1, 2)
        self.conv2 = nn.Conv2d(16, 16, 3, 1, 1)
        self.conv3 = nn.Conv2d(16, 8, 3, 1, 1)
        self.conv4 = nn.Conv2d(8, upscale**2, 3, 1, 1)
        self.pixel_shuffle = nn.PixelShuffle(upscale)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        return self.pixel_shuffle(self.conv4(x))


def super_resolution_graph() -> Architecture:
    gain = {"weight_init": f"orthogonal({math.sqrt(2)})"}  # init.calculate_gain("relu")
    conv = [(16, 5, 2), (16, 3, 1), (8, 3, 1), (9, 3, 1)]
    layers, prev = [], "x"
    for i, (width, k, pad) in enumerate(conv, start=1):
        params = {"out_channels": width, "kernel_size": k, "padding": pad, **gain}
        layers.append((f"conv{i}", "Conv2d", params, [prev]))
        prev = f"conv{i}"
        if i < 4:
            layers.append((f"relu{i}", "ReLU", {}, [prev]))
            prev = f"relu{i}"
    layers.append(("pixel_shuffle", "PixelShuffle", {"upscale_factor": 3}, [prev]))
    return build("super resolution", {"x": ((1, 12, 12), "float32")}, layers)


def test_super_resolution_matches_and_loads_the_reference_weights_by_name():
    reference = SuperResolution()
    arch = super_resolution_graph()
    check_model(arch, reference, [torch.randn(2, 1, 12, 12)])
    compile_model(arch).load_state_dict(reference.state_dict())  # same names, strict


# ---- fast neural style: reflection padding, instance norm, upsampling ------------------


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class StyleNet(nn.Module):
    """TransformerNet with 8/16 channels and one residual block."""

    def __init__(self):
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, 8, 9, 1), nn.InstanceNorm2d(8, affine=True)
        self.conv2, self.in2 = ConvLayer(8, 16, 3, 2), nn.InstanceNorm2d(16, affine=True)
        self.res_conv1 = ConvLayer(16, 16, 3, 1)
        self.res_in1 = nn.InstanceNorm2d(16, affine=True)
        self.res_conv2 = ConvLayer(16, 16, 3, 1)
        self.res_in2 = nn.InstanceNorm2d(16, affine=True)
        self.deconv1 = ConvLayer(16, 8, 3, 1)  # after a nearest 2x upsample
        self.in4 = nn.InstanceNorm2d(8, affine=True)
        self.deconv3 = ConvLayer(8, 3, 9, 1)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        residual = y
        out = F.relu(self.res_in1(self.res_conv1(y)))
        y = self.res_in2(self.res_conv2(out)) + residual
        y = F.interpolate(y, mode="nearest", scale_factor=2)
        y = F.relu(self.in4(self.deconv1(y)))
        return self.deconv3(y)


def style_graph() -> Architecture:
    def conv(name, src, width, k, stride):
        return [
            (f"{name}_pad", "ReflectionPad2d", {"padding": k // 2}, [src]),
            (name, "Conv2d", {"out_channels": width, "kernel_size": k, "stride": stride},
             [f"{name}_pad"]),
        ]  # fmt: skip

    norm = {"affine": True}
    layers = [
        *conv("conv1", "x", 8, 9, 1),
        ("in1", "InstanceNorm2d", norm, ["conv1"]),
        ("relu1", "ReLU", {}, ["in1"]),
        *conv("conv2", "relu1", 16, 3, 2),
        ("in2", "InstanceNorm2d", norm, ["conv2"]),
        ("relu2", "ReLU", {}, ["in2"]),
        *conv("res_conv1", "relu2", 16, 3, 1),
        ("res_in1", "InstanceNorm2d", norm, ["res_conv1"]),
        ("res_relu", "ReLU", {}, ["res_in1"]),
        *conv("res_conv2", "res_relu", 16, 3, 1),
        ("res_in2", "InstanceNorm2d", norm, ["res_conv2"]),
        ("residual", "Add", {}, ["res_in2", "relu2"]),
        ("up", "Upsample", {"scale_factor": 2.0}, ["residual"]),
        *conv("deconv1", "up", 8, 3, 1),
        ("in4", "InstanceNorm2d", norm, ["deconv1"]),
        ("relu4", "ReLU", {}, ["in4"]),
        *conv("deconv3", "relu4", 3, 9, 1),
    ]
    return build("fast neural style", {"x": ((3, 16, 16), "float32")}, layers)


def test_fast_neural_style_matches():
    check_model(style_graph(), StyleNet(), [torch.randn(2, 3, 16, 16)])


# ---- word language model, Transformer with its causal mask ------------------------------


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=64):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1).float()
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[: x.size(0)]


class TransformerLM(nn.Module):
    """Sequence-first like the original; each causal layer as in its TransformerEncoder."""

    def __init__(self, ntoken=40, ninp=16, nhead=2, nhid=32, nlayers=2):
        super().__init__()
        self.ninp = ninp
        self.encoder = nn.Embedding(ntoken, ninp)
        self.pos_encoder = PositionalEncoding(ninp)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(ninp, nhead, nhid, 0.2) for _ in range(nlayers)
        )
        self.decoder = nn.Linear(ninp, ntoken)

    def forward(self, src):
        mask = torch.log(torch.tril(torch.ones(len(src), len(src))))  # 0 below, -inf above
        x = self.pos_encoder(self.encoder(src) * math.sqrt(self.ninp))
        for layer in self.layers:
            x = layer(x, src_mask=mask)
        return F.log_softmax(self.decoder(x), dim=-1)


def transformer_lm_graph() -> Architecture:
    layer = {"nhead": 2, "dim_feedforward": 32, "dropout": 0.2, "is_causal": True}
    return build(
        "word LM transformer",
        {"tokens": ((10,), "int64")},
        [
            ("encoder", "Embedding", {"num_embeddings": 40, "embedding_dim": 16}, ["tokens"]),
            ("scale", "mul", {"other": math.sqrt(16)}, ["encoder"]),
            ("pos", "PositionalEmbedding", {"max_len": 64, "encoding": "sinusoidal"}, ["scale"]),
            ("layer0", "TransformerEncoderLayer", layer, ["pos"]),
            ("layer1", "TransformerEncoderLayer", layer, ["layer0"]),
            ("decoder", "Linear", {"out_features": 40}, ["layer1"]),
            ("log_probs", "LogSoftmax", {"dim": -1}, ["decoder"]),
        ],
    )


def test_transformer_word_lm_matches_with_its_causal_mask():
    tokens = torch.randint(0, 40, (3, 10))
    check_model(
        transformer_lm_graph(),
        TransformerLM(),
        [tokens.t()],  # the reference is sequence-first
        graph_inputs=[tokens],
        outputs=lambda out: out.transpose(0, 1),
    )


# ---- U-Net (bilinear) at 60x60: skips padded to match ------------------------------------


class DoubleConv(nn.Module):
    def __init__(self, cin, cout, mid=None):
        super().__init__()
        mid = mid or cout
        self.double_conv = nn.Sequential(
            nn.Conv2d(cin, mid, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.double_conv(x)


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv = DoubleConv(cin, cout, cin // 2)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy, dx = x2.size()[2] - x1.size()[2], x2.size()[3] - x1.size()[3]
        x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class UNet(nn.Module):
    def __init__(self, w=4):
        super().__init__()
        self.inc = DoubleConv(1, w)
        widths = [(w, 2 * w), (2 * w, 4 * w), (4 * w, 8 * w), (8 * w, 8 * w)]
        self.downs = nn.ModuleList(DoubleConv(cin, cout) for cin, cout in widths)
        self.ups = nn.ModuleList([Up(16 * w, 4 * w), Up(8 * w, 2 * w), Up(4 * w, w), Up(2 * w, w)])
        self.outc = nn.Conv2d(w, 2, 1)

    def forward(self, x):
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(F.max_pool2d(skips[-1], 2)))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.outc(x)


def unet_graph(w=4) -> Architecture:
    layers = []

    def double(name, src, mid, out):
        for i, width in enumerate((mid, out)):
            params = {"out_channels": width, "kernel_size": 3, "padding": 1, "bias": False}
            layers.append((f"{name}_conv{i}", "Conv2d", params, [src]))
            layers.append((f"{name}_bn{i}", "BatchNorm2d", {}, [f"{name}_conv{i}"]))
            layers.append((f"{name}_relu{i}", "ReLU", {}, [f"{name}_bn{i}"]))
            src = f"{name}_relu{i}"
        return src

    skips = [double("inc", "x", w, w)]
    for i, width in enumerate((2 * w, 4 * w, 8 * w, 8 * w)):
        layers.append((f"pool{i}", "MaxPool2d", {"kernel_size": 2}, [skips[-1]]))
        skips.append(double(f"down{i}", f"pool{i}", width, width))
    x = skips.pop()
    for i, (cin, out) in enumerate(((16 * w, 4 * w), (8 * w, 2 * w), (4 * w, w), (2 * w, w))):
        skip = skips.pop()
        up = {"scale_factor": 2.0, "mode": "bilinear", "align_corners": True}
        layers.append((f"up{i}", "Upsample", up, [x]))
        layers.append((f"pad{i}", "PadToMatch", {}, [f"up{i}", skip]))
        layers.append((f"cat{i}", "Concat", {}, [skip, f"pad{i}"]))
        x = double(f"upconv{i}", f"cat{i}", cin // 2, out)
    layers.append(("outc", "Conv2d", {"out_channels": 2, "kernel_size": 1}, [x]))
    return build("UNet 60", {"x": ((1, 60, 60), "float32")}, layers)


def test_unet_at_60_by_60_matches_with_padded_skips():
    arch = unet_graph()
    check_model(arch, UNet(), [torch.randn(2, 1, 60, 60)])
    assert "nn.functional.pad(" in generate_source(arch)


def test_reference_model_sources_are_ruff_clean(tmp_path):
    graphs = {
        "dcgan": dcgan_discriminator_graph(),
        "super_resolution": super_resolution_graph(),
        "style": style_graph(),
        "lm": transformer_lm_graph(),
        "unet": unet_graph(),
    }
    ruff_clean({name: generate_source(arch) for name, arch in graphs.items()}, tmp_path)


# ---- seq2seq attention decoder: state in and out, bmm, weights returned ------------------


class AttnDecoder(nn.Module):
    """pytorch/tutorials seq2seq AttnDecoderRNN, batched: one decoding step."""

    def __init__(self, hidden=8, vocab=12, max_length=5):
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden)
        self.attn = nn.Linear(hidden * 2, max_length)
        self.attn_combine = nn.Linear(hidden * 2, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, token, hidden, encoder_outputs):  # (N, 1), (1, N, H), (N, L, H)
        embedded = self.embedding(token)[:, 0]
        attn_weights = F.softmax(self.attn(torch.cat((embedded, hidden[0]), 1)), dim=1)
        applied = torch.bmm(attn_weights.unsqueeze(1), encoder_outputs)[:, 0]
        output = F.relu(self.attn_combine(torch.cat((embedded, applied), 1)).unsqueeze(1))
        output, hidden = self.gru(output, hidden)
        return F.log_softmax(self.out(output[:, 0]), dim=1), hidden, attn_weights


def attn_decoder_graph(hidden=8, vocab=12, length=5) -> Architecture:
    arch = build(
        "attention decoder",
        {
            "token": ((1,), "int64"),
            "hidden": ((1, hidden), "float32"),
            "encoder_outputs": ((length, hidden), "float32"),
        },
        [
            (
                "embedding",
                "Embedding",
                {"num_embeddings": vocab, "embedding_dim": hidden},
                ["token"],
            ),
            ("embedded", "Reshape", {"shape": [hidden]}, ["embedding"]),
            ("h", "Reshape", {"shape": [hidden]}, ["hidden"]),
            ("joined", "Concat", {}, ["embedded", "h"]),
            ("attn", "Linear", {"out_features": length}, ["joined"]),
            ("attn_weights", "Softmax", {"dim": 1}, ["attn"]),
            ("weights_row", "unsqueeze", {"dim": 1}, ["attn_weights"]),
            ("context", "bmm", {}, ["weights_row", "encoder_outputs"]),
            ("applied", "squeeze", {"dim": 1}, ["context"]),
            ("combined", "Concat", {}, ["embedded", "applied"]),
            ("attn_combine", "Linear", {"out_features": hidden}, ["combined"]),
            ("step", "unsqueeze", {"dim": 1}, ["attn_combine"]),
            ("relu", "ReLU", {}, ["step"]),
            ("gru", "GRU", {"hidden_size": hidden, "return": "last"}, ["relu", "hidden"]),
            ("out", "Linear", {"out_features": vocab}, ["gru"]),
            ("log_probs", "LogSoftmax", {"dim": 1}, ["out"]),
            ("output", "Output", {}, ["log_probs"]),
        ],
    )
    arch.add_node("Output", id="next_hidden")
    arch.connect("gru", "next_hidden", source_port="h_n")
    arch.add_node("Output", id="attention")
    arch.connect("attn_weights", "attention")
    return arch


def test_attention_decoder_step_matches_with_state_and_weights_out(tmp_path):
    arch = attn_decoder_graph()
    analysis = analyse(arch)
    assert analysis.ok, analysis.errors
    assert not any("Softmax" in str(w) for w in analysis.warnings)
    reference = AttnDecoder().eval()
    model = compile_model(arch).eval()
    model.load_state_dict(reference.state_dict())  # same names: loads directly
    assert analysis.total_params == sum(p.numel() for p in reference.parameters())
    token, hidden = torch.randint(0, 12, (3, 1)), torch.randn(1, 3, 8)
    encoder_outputs = torch.randn(3, 5, 8)
    with torch.no_grad():
        got = model(token, hidden.transpose(0, 1), encoder_outputs)
        log_probs, next_hidden, weights = reference(token, hidden, encoder_outputs)
    want = (log_probs, next_hidden.transpose(0, 1), weights)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and (g - w).abs().max() <= TOLERANCE
    ruff_clean({"decoder": generate_source(arch)}, tmp_path)
