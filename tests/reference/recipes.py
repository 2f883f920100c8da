"""The reference models built as LayerCraft graphs by hand, node by node (no import).

Each recipe returns the graph and, per node with weights, the original module's path,
so the original's weights can be copied in for the comparison.
"""

from __future__ import annotations

from builder.graph import Architecture


class Recipe:
    """A small builder: chains layers, remembers which original module each node stands for."""

    def __init__(self, name: str, shape: list[int], dtype: str = "float32"):
        self.arch = Architecture(name)
        params = {"shape": shape} if dtype == "float32" else {"shape": shape, "dtype": dtype}
        self.last = self.arch.add_node("Input", params, id="x")
        self.sources: dict[str, str] = {}

    def add(self, type_name, params=None, *, path=None, id=None, inputs=None):
        node_id = self.arch.add_node(type_name, params or {}, id=id or _id(path, type_name, self))
        for src in inputs or [self.last]:
            src, port = src if isinstance(src, tuple) else (src, None)
            self.arch.connect(src, node_id, source_port=port)
        if path is not None:
            self.sources[node_id] = path
        self.last = node_id
        return node_id


def _id(path, type_name, recipe):
    if path is not None:
        return path.replace(".", "_")
    return recipe.arch.fresh_id(type_name.lower())


def quickstart_mlp():
    r = Recipe("QuickstartMLP", [1, 28, 28])
    r.add("Flatten", path="flatten")
    r.add("Linear", {"out_features": 512}, path="linear_relu_stack.0")
    r.add("ReLU")
    r.add("Linear", {"out_features": 512}, path="linear_relu_stack.2")
    r.add("ReLU")
    r.add("Linear", {"out_features": 10}, path="linear_relu_stack.4")
    return r


def mnist_net():
    r = Recipe("MnistNet", [1, 28, 28])
    r.add("Conv2d", {"out_channels": 32, "kernel_size": 3}, path="conv1")
    r.add("ReLU")
    r.add("Conv2d", {"out_channels": 64, "kernel_size": 3}, path="conv2")
    r.add("ReLU")
    r.add("MaxPool2d", {"kernel_size": 2})
    r.add("Dropout", {"p": 0.25}, path="dropout1")
    r.add("Flatten")
    r.add("Linear", {"out_features": 128}, path="fc1")
    r.add("ReLU")
    r.add("Dropout", {"p": 0.5}, path="dropout2")
    r.add("Linear", {"out_features": 10}, path="fc2")
    r.add("LogSoftmax", {"dim": 1})
    return r


def mnist_rnn():
    r = Recipe("MnistRNN", [1, 28, 28])
    r.add("Reshape", {"shape": [28, 28]})
    r.add("LSTM", {"hidden_size": 64}, path="rnn")  # return="last": output[:, -1, :]
    r.add("BatchNorm1d", path="batchnorm")
    r.add("Dropout2d", {"p": 0.25}, path="dropout1")
    r.add("Linear", {"out_features": 32}, path="fc1")
    r.add("ReLU")
    r.add("Dropout2d", {"p": 0.5}, path="dropout2")
    r.add("Linear", {"out_features": 10}, path="fc2")
    r.add("LogSoftmax", {"dim": 1})
    return r


def _basic_block(r, prefix, planes, stride, downsample):
    entry = r.last
    r.add("Conv2d", _conv(planes, 3, stride, 1), path=f"{prefix}.conv1")
    r.add("BatchNorm2d", path=f"{prefix}.bn1")
    r.add("ReLU", id=f"{prefix}_relu".replace(".", "_"))
    r.add("Conv2d", _conv(planes, 3, 1, 1), path=f"{prefix}.conv2")
    main = r.add("BatchNorm2d", path=f"{prefix}.bn2")
    shortcut = entry
    if downsample:
        r.last = entry
        r.add("Conv2d", _conv(planes, 1, stride, 0), path=f"{prefix}.downsample.0")
        shortcut = r.add("BatchNorm2d", path=f"{prefix}.downsample.1")
    r.add("Add", inputs=[main, shortcut])
    return r.add("ReLU", id=f"{prefix}_relu_2".replace(".", "_"))


def _conv(out_channels, kernel, stride, padding):
    params = {"out_channels": out_channels, "kernel_size": kernel, "bias": False}
    if stride != 1:
        params["stride"] = stride
    if padding:
        params["padding"] = padding
    return params


def resnet18(num_classes=10, width=16):
    r = Recipe("ResNet18", [3, 32, 32])
    r.add("Conv2d", _conv(width, 7, 2, 3), path="conv1")
    r.add("BatchNorm2d", path="bn1")
    r.add("ReLU")
    r.add("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1})
    in_planes = width
    for stage in range(4):
        planes = width * 2**stage
        for block in range(2):
            stride = 2 if stage and not block else 1
            down = block == 0 and (stride != 1 or in_planes != planes)
            _basic_block(r, f"layer{stage + 1}.{block}", planes, stride, down)
            in_planes = planes
    r.add("AdaptiveAvgPool2d", {"output_size": 1}, path="avgpool")
    r.add("Flatten")
    r.add("Linear", {"out_features": num_classes}, path="fc")
    return r


def dcgan_generator(nz=16, ngf=8, nc=3):
    r = Recipe("DCGANGenerator", [nz, 1, 1])
    widths = [ngf * 8, ngf * 4, ngf * 2, ngf]
    index = 0
    for i, width in enumerate(widths):
        stride, padding = (1, 0) if i == 0 else (2, 1)
        params = {"out_channels": width, "kernel_size": 4, "stride": stride, "padding": padding}
        r.add("ConvTranspose2d", {**params, "bias": False}, path=f"main.{index}")
        r.add("BatchNorm2d", path=f"main.{index + 1}")
        r.add("ReLU")
        index += 3
    params = {"out_channels": nc, "kernel_size": 4, "stride": 2, "padding": 1, "bias": False}
    r.add("ConvTranspose2d", params, path=f"main.{index}")
    r.add("Tanh")
    return r


def _double_conv(r, prefix, out_channels, mid_channels=None):
    mid = mid_channels or out_channels
    r.add("Conv2d", {**_conv(mid, 3, 1, 1)}, path=f"{prefix}.double_conv.0")
    r.add("BatchNorm2d", path=f"{prefix}.double_conv.1")
    r.add("ReLU")
    r.add("Conv2d", {**_conv(out_channels, 3, 1, 1)}, path=f"{prefix}.double_conv.3")
    r.add("BatchNorm2d", path=f"{prefix}.double_conv.4")
    return r.add("ReLU")


def unet(size=64, base=4, n_classes=2, bilinear=False, pad=False):
    """milesial's U-Net; at 64x64 no padding is needed to match the skips, at 60x60 it is."""
    r = Recipe("UNet", [3, size, size])
    factor = 2 if bilinear else 1
    skips = [_double_conv(r, "inc", base)]
    for i in range(1, 5):
        r.add("MaxPool2d", {"kernel_size": 2})
        out = base * 2**i // (factor if i == 4 else 1)
        skips.append(_double_conv(r, f"down{i}.maxpool_conv.1", out))
    x = skips.pop()
    for i in range(1, 5):
        channels = base * 2 ** (5 - i)  # in_channels of Up i
        out = channels // 2 // (factor if i < 4 else 1)
        r.last = x
        if bilinear:
            params = {"scale_factor": 2.0, "mode": "bilinear", "align_corners": True}
            up = r.add("Upsample", params, path=f"up{i}.up")
            mid = channels // 2
        else:
            params = {"out_channels": channels // 2, "kernel_size": 2, "stride": 2}
            up = r.add("ConvTranspose2d", params, path=f"up{i}.up")
            mid = None
        skip = skips.pop()
        if pad:
            up = r.add("PadToMatch", inputs=[up, skip])  # F.pad(x1, [dx // 2, ...])
        r.add("Concat", {"dim": 1}, inputs=[skip, up])
        x = _double_conv(r, f"up{i}.conv", out, mid)
    r.add("Conv2d", {"out_channels": n_classes, "kernel_size": 1}, path="outc")
    return r


def unet_bilinear():
    return unet(bilinear=True)


def unet_60():
    return unet(size=60, pad=True)


def super_resolution(upscale_factor=3):
    r = Recipe("SuperResolutionNet", [1, 16, 16])
    for i, (width, kernel) in enumerate([(64, 5), (64, 3), (32, 3)], start=1):
        r.add(
            "Conv2d",
            {"out_channels": width, "kernel_size": kernel, "padding": kernel // 2},
            path=f"conv{i}",
        )
        r.add("ReLU")
    r.add(
        "Conv2d", {"out_channels": upscale_factor**2, "kernel_size": 3, "padding": 1}, path="conv4"
    )
    r.add("PixelShuffle", {"upscale_factor": upscale_factor}, path="pixel_shuffle")
    return r


def dcgan_discriminator(ndf=8, nc=3):
    r = Recipe("DCGANDiscriminator", [nc, 64, 64])
    r.add("Conv2d", {**_conv(ndf, 4, 2, 1)}, path="main.0")
    r.add("LeakyReLU", {"negative_slope": 0.2})
    index = 2
    for width in (ndf * 2, ndf * 4, ndf * 8):
        r.add("Conv2d", _conv(width, 4, 2, 1), path=f"main.{index}")
        r.add("BatchNorm2d", path=f"main.{index + 1}")
        r.add("LeakyReLU", {"negative_slope": 0.2})
        index += 3
    r.add("Conv2d", _conv(1, 4, 1, 0), path=f"main.{index}")
    r.add("Sigmoid")
    r.add("Flatten")  # output.view(-1, 1)
    r.add("squeeze", {"dim": 1})  # one probability per image: shape (N,)
    return r


def _style_conv(r, prefix, out_channels, kernel, stride):
    r.add("ReflectionPad2d", {"padding": kernel // 2}, path=f"{prefix}.reflection_pad")
    params = {"out_channels": out_channels, "kernel_size": kernel}
    if stride != 1:
        params["stride"] = stride
    return r.add("Conv2d", params, path=f"{prefix}.conv2d")


def fast_neural_style(width=8):
    r = Recipe("TransformerNet", [3, 32, 32])
    norm = {"affine": True}
    for i, (out, kernel, stride) in enumerate(
        [(width, 9, 1), (width * 2, 3, 2), (width * 4, 3, 2)]
    ):
        _style_conv(r, f"conv{i + 1}", out, kernel, stride)
        r.add("InstanceNorm2d", norm, path=f"in{i + 1}")
        r.add("ReLU")
    for k in range(1, 6):
        entry = r.last
        _style_conv(r, f"res{k}.conv1", width * 4, 3, 1)
        r.add("InstanceNorm2d", norm, path=f"res{k}.in1")
        r.add("ReLU")
        _style_conv(r, f"res{k}.conv2", width * 4, 3, 1)
        main = r.add("InstanceNorm2d", norm, path=f"res{k}.in2")
        r.add("Add", inputs=[main, entry])
    for i, out in enumerate([width * 2, width], start=1):
        r.add("Upsample", {"scale_factor": 2.0})
        _style_conv(r, f"deconv{i}", out, 3, 1)
        r.add("InstanceNorm2d", norm, path=f"in{i + 3}")
        r.add("ReLU")
    _style_conv(r, "deconv3", 3, 9, 1)
    return r


def word_lm_lstm_tied(ntoken=100, ninp=16, nhid=16, nlayers=2, dropout=0.5, tie=True):
    r = Recipe("RNNModel", [5], dtype="int64")
    hidden = r.arch.add_node("Input", {"shape": [nlayers, nhid]}, id="hidden")
    cell = r.arch.add_node("Input", {"shape": [nlayers, nhid]}, id="cell")
    r.add("Embedding", {"num_embeddings": ntoken, "embedding_dim": ninp}, path="encoder")
    drop = r.add("Dropout", {"p": dropout}, path="drop")
    params = {"hidden_size": nhid, "num_layers": nlayers, "dropout": dropout, "return": "sequence"}
    rnn = r.add("LSTM", params, path="rnn", inputs=[drop, hidden, cell])
    r.add("Dropout", {"p": dropout})
    decoder = {"out_features": ntoken, **({"tie_weight_to": "encoder"} if tie else {})}
    r.add("Linear", decoder, path="decoder")
    logits = r.add("LogSoftmax", {"dim": -1})
    r.add("Output", id="log_probs", inputs=[logits])
    r.add("Output", id="h_n", inputs=[(rnn, "h_n")])
    r.add("Output", id="c_n", inputs=[(rnn, "c_n")])
    return r


def word_lm_lstm(**sizes):
    """The same model with its own decoder weight (tie_weights=False)."""
    return word_lm_lstm_tied(**sizes, tie=False)


def word_lm_transformer(ntoken=100, ninp=16, nhead=2, nhid=32, nlayers=2, dropout=0.5):
    r = Recipe("TransformerModel", [6], dtype="int64")
    r.add("Embedding", {"num_embeddings": ntoken, "embedding_dim": ninp}, path="encoder")
    r.add("mul", {"other": ninp**0.5})
    r.add("PositionalEmbedding", {"max_len": 5000, "encoding": "sinusoidal"}, path="pos_encoder.pe")
    r.add("Dropout", {"p": dropout}, path="pos_encoder.dropout")
    for i in range(nlayers):
        params = {"nhead": nhead, "dim_feedforward": nhid, "dropout": dropout, "is_causal": True}
        r.add("TransformerEncoderLayer", params, path=f"transformer_encoder.layers.{i}")
    r.add("Linear", {"out_features": ntoken}, path="decoder")
    r.add("LogSoftmax", {"dim": -1})
    return r


def vae():
    r = Recipe("VAE", [1, 28, 28])
    r.add("Flatten")  # x.view(-1, 784)
    r.add("Linear", {"out_features": 400}, path="fc1")
    h1 = r.add("ReLU")
    mu = r.add("Linear", {"out_features": 20}, path="fc21", inputs=[h1])
    logvar = r.add("Linear", {"out_features": 20}, path="fc22", inputs=[h1])
    # The published model samples in eval too: z = mu + randn_like(std) * std.
    r.add("Reparameterize", {"sample_in_eval": True}, inputs=[mu, logvar])
    r.add("Linear", {"out_features": 400}, path="fc3")
    r.add("ReLU")
    r.add("Linear", {"out_features": 784}, path="fc4")
    recon = r.add("Sigmoid")
    for name, node in (("recon", recon), ("mu", mu), ("logvar", logvar)):
        r.add("Output", id=f"{name}_out", inputs=[node])
    return r


def vision_transformer(image=32, patch=8, dim=32, depth=2, heads=4, mlp=64, classes=10):
    r = Recipe("VisionTransformer", [3, image, image])
    r.add(
        "Conv2d", {"out_channels": dim, "kernel_size": patch, "stride": patch}, path="patch_embed"
    )
    r.add("Flatten", {"start_dim": 2})
    r.add("transpose", {"dim0": 1, "dim1": 2})
    r.add("ClassToken", path="cls_token")
    r.add("PositionalEmbedding", {"max_len": (image // patch) ** 2 + 1}, path="pos_embed")
    for i in range(depth):
        params = {"nhead": heads, "dim_feedforward": mlp, "activation": "gelu", "norm_first": True}
        r.add("TransformerEncoderLayer", params, path=f"encoder.layers.{i}")
    r.add("LayerNorm", path="norm")
    r.add("SequenceMean", {"reduce": "first"})
    r.add("Linear", {"out_features": classes}, path="head")
    return r


def _squeeze_excite(r, prefix, channels, squeezed):
    feature_map = r.last
    r.add("AdaptiveAvgPool2d", {"output_size": 1})
    r.add("Conv2d", {"out_channels": squeezed, "kernel_size": 1}, path=f"{prefix}.fc1")
    r.add("ReLU")
    r.add("Conv2d", {"out_channels": channels, "kernel_size": 1}, path=f"{prefix}.fc2")
    gate = r.add("Hardsigmoid")
    r.add("Multiply", inputs=[gate, feature_map])  # (C, 1, 1) broadcast over (C, H, W)


def _inverted_residual(r, i, cin, kernel, expanded, cout, use_se, act, stride):
    """features.<i>: the weighted layers take the Sequential's index as their path."""
    from models import _make_divisible

    block_in, paths = r.last, iter(range(10))
    activation = "Hardswish" if act == "HS" else "ReLU"

    def path():
        return f"features.{i}.block.{next(paths)}"

    if expanded != cin:
        r.add("Conv2d", {"out_channels": expanded, "kernel_size": 1, "bias": False}, path=path())
        r.add("BatchNorm2d", path=path())
        r.add(activation, id=path().replace(".", "_"))
    depthwise = {
        "out_channels": expanded,
        "kernel_size": kernel,
        "stride": stride,
        "padding": kernel // 2,
        "groups": expanded,
        "bias": False,
    }
    r.add("Conv2d", depthwise, path=path())
    r.add("BatchNorm2d", path=path())
    r.add(activation, id=path().replace(".", "_"))
    if use_se:
        _squeeze_excite(r, path(), expanded, _make_divisible(expanded // 4))
    r.add("Conv2d", {"out_channels": cout, "kernel_size": 1, "bias": False}, path=path())
    r.add("BatchNorm2d", path=path())
    if stride == 1 and cin == cout:
        r.add("Add", inputs=[r.last, block_in])


def mobilenet_v3_small(classes=10, last=64):
    from models import MOBILENET_V3_SMALL

    r = Recipe("MobileNetV3Small", [3, 32, 32])
    stem = {"out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1, "bias": False}
    r.add("Conv2d", stem, path="features.0.0")
    r.add("BatchNorm2d", path="features.0.1")
    r.add("Hardswish")
    cin = 16
    for i, row in enumerate(MOBILENET_V3_SMALL, 1):
        _inverted_residual(r, i, cin, *row)
        cin = row[2]
    head = len(MOBILENET_V3_SMALL) + 1
    wide = {"out_channels": 6 * cin, "kernel_size": 1, "bias": False}
    r.add("Conv2d", wide, path=f"features.{head}.0")
    r.add("BatchNorm2d", path=f"features.{head}.1")
    r.add("Hardswish")
    r.add("AdaptiveAvgPool2d", {"output_size": 1})
    r.add("Flatten")
    r.add("Linear", {"out_features": last}, path="classifier.0")
    r.add("Hardswish")
    r.add("Dropout", {"p": 0.2})
    r.add("Linear", {"out_features": classes}, path="classifier.3")
    return r


def _channels_first_norm(r, path):
    r.add("permute", {"dims": [0, 2, 3, 1]})
    r.add("LayerNorm", {"eps": 1e-6}, path=path)
    r.add("permute", {"dims": [0, 3, 1, 2]})


def _convnext_block(r, prefix, dim):
    block_in = r.last
    r.add(
        "Conv2d",
        {"out_channels": dim, "kernel_size": 7, "padding": 3, "groups": dim},
        path=f"{prefix}.dwconv",
    )
    r.add("permute", {"dims": [0, 2, 3, 1]})
    r.add("LayerNorm", {"eps": 1e-6}, path=f"{prefix}.norm")
    per_position = {"per_position": True}
    r.add("Linear", {"out_features": 4 * dim, **per_position}, path=f"{prefix}.pwconv1")
    r.add("GELU")
    r.add("Linear", {"out_features": dim, **per_position}, path=f"{prefix}.pwconv2")
    r.add("LayerScale", {"channels": "last"}, path=f"{prefix}.gamma")
    r.add("permute", {"dims": [0, 3, 1, 2]})
    r.add("Add", inputs=[r.last, block_in])


def convnext(dims=(16, 32), depths=(1, 1), classes=10):
    r = Recipe("ConvNeXt", [3, 32, 32])
    r.add("Conv2d", {"out_channels": dims[0], "kernel_size": 4, "stride": 4}, path="stem.0")
    _channels_first_norm(r, "stem.1")
    for i in range(depths[0]):
        _convnext_block(r, f"stage1.{i}", dims[0])
    _channels_first_norm(r, "downsample.0")
    r.add("Conv2d", {"out_channels": dims[1], "kernel_size": 2, "stride": 2}, path="downsample.1")
    for i in range(depths[1]):
        _convnext_block(r, f"stage2.{i}", dims[1])
    r.add("mean", {"dim": [-2, -1]})
    r.add("LayerNorm", {"eps": 1e-6}, path="norm")
    r.add("Linear", {"out_features": classes}, path="head")
    return r


def _decoder_step(r, i, token, hidden, keys, vocab, size):
    """One step of the seq2seq attention decoder. Step 0 owns the layers; every later step
    calls them again (`shares`), as the original's loop calls self.gru each time."""

    def layer(type_name, params, path, inputs):
        if i == 0:
            return r.add(type_name, params, path=path, inputs=inputs)
        shared = {**params, "shares": path.replace(".", "_")}
        return r.add(type_name, shared, id=f"{path.replace('.', '_')}_{i + 1}", inputs=inputs)

    embedded = layer(
        "Embedding", {"num_embeddings": vocab, "embedding_dim": size}, "embedding", [token]
    )
    embedded = r.add("Dropout", {"p": 0.1}, inputs=[embedded])
    query = layer("Linear", {"out_features": size}, "attention.Wa", [hidden])
    projected = layer("Linear", {"out_features": size}, "attention.Ua", [keys])
    r.add("Add", inputs=[query, projected])
    r.add("Tanh")
    layer("Linear", {"out_features": 1}, "attention.Va", [r.last])
    r.add("squeeze", {"dim": 2})
    r.add("unsqueeze", {"dim": 1})
    weights = r.add("Softmax", {"dim": -1})
    context = r.add("bmm", inputs=[weights, keys])
    joined = r.add("Concat", {"dim": 2}, inputs=[embedded, context])
    gru = layer("GRU", {"hidden_size": size, "return": "sequence"}, "gru", [joined, hidden])
    output = layer("Linear", {"out_features": vocab}, "out", [gru])
    return output, (gru, "h_n"), weights


def attention_decoder(size=8, vocab=12, steps=3, length=5):
    """pytorch/tutorials seq2seq AttnDecoderRNN, unrolled over its greedy decoding loop."""
    r = Recipe("AttnDecoderRNN", [length, size])
    keys = r.last
    hidden = r.arch.add_node("Input", {"shape": [1, size]}, id="encoder_hidden")
    token = r.add("full", {"size": [1], "fill_value": 0, "dtype": "int64"}, inputs=[keys])
    outputs, attentions = [], []
    for i in range(steps):
        output, hidden, weights = _decoder_step(r, i, token, hidden, keys, vocab, size)
        outputs.append(output)
        attentions.append(weights)
        r.add("argmax", {"dim": -1, "keepdim": True}, inputs=[output])
        token = r.add("squeeze", {"dim": -1})
    log_probs = r.add(
        "LogSoftmax", {"dim": -1}, inputs=[r.add("Concat", {"dim": 1}, inputs=outputs)]
    )
    r.add("Output", id="log_probs", inputs=[log_probs])
    r.add("Output", id="hidden", inputs=[hidden])
    r.add("Output", id="attentions", inputs=[r.add("Concat", {"dim": 1}, inputs=attentions)])
    return r
