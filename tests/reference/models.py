"""Well-known public models, rewritten here as plain PyTorch modules (our own code).

Each class follows the published architecture named in its docstring: the same layers,
sizes and forward computation, written from the description, not copied. Sizes are
constructor arguments so the tests can keep them small; the defaults are the published ones.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


class QuickstartMLP(nn.Module):
    """The pytorch/tutorials "Quickstart" FashionMNIST network: flatten, 512, 512, 10."""

    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


class MnistNet(nn.Module):
    """pytorch/examples mnist/main.py `Net`: two 3x3 convs, max-pool, dropout, two Linears."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


class MnistRNN(nn.Module):
    """pytorch/examples mnist_rnn/main.py: an LSTM over the 28 rows, batch norm, two Linears."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(input_size=28, hidden_size=64, batch_first=True)
        self.batchnorm = nn.BatchNorm1d(64)
        self.dropout1 = nn.Dropout2d(0.25)
        self.dropout2 = nn.Dropout2d(0.5)
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = x.reshape(-1, 28, 28)
        output, _ = self.rnn(x)
        x = self.batchnorm(output[:, -1, :])
        x = self.dropout1(x)  # Dropout2d on (N, C), as published
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


class BasicBlock(nn.Module):
    """torchvision resnet.py BasicBlock: two 3x3 convs with batch norm and a shortcut."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """torchvision resnet18: 7x7 stem, max-pool, four stages of two BasicBlocks, avg-pool, fc."""

    def __init__(self, num_classes=1000, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = [width, width * 2, width * 4, width * 8]
        stages, in_planes = [], width
        for i, planes in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(
                nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes))
            )
            in_planes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


class RNNModel(nn.Module):
    """pytorch/examples word_language_model RNNModel (LSTM, tie_weights or not): embedding, LSTM,
    decoder sharing the embedding's weight; takes and returns the hidden state.

    Batch-first throughout, states included: (N, layers, hidden), transposed to torch's
    (layers, N, hidden) around the LSTM call.
    """

    def __init__(
        self,
        rnn_type="LSTM",
        ntoken=1000,
        ninp=32,
        nhid=32,
        nlayers=2,
        dropout=0.5,
        tie_weights=True,
    ):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout, batch_first=True)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.init_weights()

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden, cell):
        emb = self.drop(self.encoder(input))
        state = (hidden.transpose(0, 1).contiguous(), cell.transpose(0, 1).contiguous())
        output, (hidden, cell) = self.rnn(emb, state)
        decoded = self.decoder(self.drop(output))
        return F.log_softmax(decoded, dim=-1), hidden.transpose(0, 1), cell.transpose(0, 1)


class PositionalEncoding(nn.Module):
    """word_language_model's fixed sine/cosine positions with dropout (batch-first table)."""

    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(1, max_len, d_model)
        pe[0, :, 0::2] = torch.sin(position * div_term)
        pe[0, :, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return self.dropout(x + self.pe[:, : x.size(1)])


class TransformerModel(nn.Module):
    """word_language_model TransformerModel: scaled embedding, positions, a causally masked
    TransformerEncoder, a Linear decoder and log-softmax (batch-first)."""

    def __init__(self, ntoken=1000, ninp=32, nhead=2, nhid=64, nlayers=2, dropout=0.5):
        super().__init__()
        self.ninp = ninp
        self.encoder = nn.Embedding(ntoken, ninp)
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        layer = nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout, batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(layer, nlayers, enable_nested_tensor=False)
        self.decoder = nn.Linear(ninp, ntoken)
        self.init_weights()

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, src):
        length = src.size(1)
        mask = torch.triu(torch.full((length, length), float("-inf")), diagonal=1)
        x = self.pos_encoder(self.encoder(src) * math.sqrt(self.ninp))
        x = self.transformer_encoder(x, mask=mask, is_causal=True)
        return F.log_softmax(self.decoder(x), dim=-1)


class VAE(nn.Module):
    """pytorch/examples vae/main.py: 784-400-(20, 20) encoder, reparameterisation, 20-400-784."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x):
        h1 = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        std = torch.exp(0.5 * logvar)
        z = mu + torch.randn_like(std) * std
        recon = torch.sigmoid(self.fc4(F.relu(self.fc3(z))))
        return recon, mu, logvar


class DCGANGenerator(nn.Module):
    """pytorch/examples dcgan Generator: five transposed convs from a (nz, 1, 1) code to 64x64."""

    def __init__(self, ngpu=1, nz=100, ngf=64, nc=3):
        super().__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        if input.is_cuda and self.ngpu > 1:
            return nn.parallel.data_parallel(self.main, input, range(self.ngpu))
        return self.main(input)


class DCGANDiscriminator(nn.Module):
    """pytorch/examples dcgan Discriminator: five strided convs to one probability per image."""

    def __init__(self, ngpu=1, ndf=64, nc=3):
        super().__init__()
        self.ngpu = ngpu
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

    def forward(self, input):
        if input.is_cuda and self.ngpu > 1:
            output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
        else:
            output = self.main(input)
        return output.view(-1, 1).squeeze(1)


class DoubleConv(nn.Module):
    """milesial/Pytorch-UNet unet_parts DoubleConv: (3x3 conv, batch norm, ReLU) twice."""

    def __init__(self, in_channels, out_channels, mid_channels=None):
        super().__init__()
        mid_channels = mid_channels or out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    """unet_parts Down: 2x2 max-pool then DoubleConv."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    """unet_parts Up: upsample (bilinear or transposed conv), pad to the skip, concat, DoubleConv."""

    def __init__(self, in_channels, out_channels, bilinear=True):
        super().__init__()
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
        x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class UNet(nn.Module):
    """milesial/Pytorch-UNet UNet: four Downs, four Ups with skips, a 1x1 OutConv."""

    def __init__(self, n_channels=3, n_classes=2, bilinear=False, base=64):
        super().__init__()
        factor = 2 if bilinear else 1
        self.inc = DoubleConv(n_channels, base)
        self.down1 = Down(base, base * 2)
        self.down2 = Down(base * 2, base * 4)
        self.down3 = Down(base * 4, base * 8)
        self.down4 = Down(base * 8, base * 16 // factor)
        self.up1 = Up(base * 16, base * 8 // factor, bilinear)
        self.up2 = Up(base * 8, base * 4 // factor, bilinear)
        self.up3 = Up(base * 4, base * 2 // factor, bilinear)
        self.up4 = Up(base * 2, base, bilinear)
        self.outc = nn.Conv2d(base, n_classes, 1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


class SuperResolutionNet(nn.Module):
    """pytorch/examples super_resolution model.py: four convs and a PixelShuffle."""

    def __init__(self, upscale_factor=3):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, 5, 1, 2)
        self.conv2 = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv3 = nn.Conv2d(64, 32, 3, 1, 1)
        self.conv4 = nn.Conv2d(32, upscale_factor**2, 3, 1, 1)
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.pixel_shuffle(self.conv4(x))


class ConvLayer(nn.Module):
    """fast_neural_style transformer_net ConvLayer: reflection padding then a conv."""

    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    """transformer_net ResidualBlock: conv, instance norm, ReLU, conv, instance norm, + input."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, 1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3, 1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x


class UpsampleConvLayer(nn.Module):
    """transformer_net UpsampleConvLayer: nearest upsampling, reflection padding, conv."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class TransformerNet(nn.Module):
    """pytorch/examples fast_neural_style TransformerNet: 3 down convs, 5 residual blocks, 2 up."""

    def __init__(self, width=32):
        super().__init__()
        self.conv1 = ConvLayer(3, width, 9, 1)
        self.in1 = nn.InstanceNorm2d(width, affine=True)
        self.conv2 = ConvLayer(width, width * 2, 3, 2)
        self.in2 = nn.InstanceNorm2d(width * 2, affine=True)
        self.conv3 = ConvLayer(width * 2, width * 4, 3, 2)
        self.in3 = nn.InstanceNorm2d(width * 4, affine=True)
        self.res1, self.res2, self.res3, self.res4, self.res5 = (
            ResidualBlock(width * 4) for _ in range(5)
        )
        self.deconv1 = UpsampleConvLayer(width * 4, width * 2, 3, 1, upsample=2)
        self.in4 = nn.InstanceNorm2d(width * 2, affine=True)
        self.deconv2 = UpsampleConvLayer(width * 2, width, 3, 1, upsample=2)
        self.in5 = nn.InstanceNorm2d(width, affine=True)
        self.deconv3 = ConvLayer(width, 3, 9, 1)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


class VisionTransformer(nn.Module):
    """ViT (Dosovitskiy et al., "An Image is Worth 16x16 Words", 2021): non-overlapping
    patches embedded by a strided conv, a learned class token in front, learned positions,
    pre-norm Transformer encoder layers, a final LayerNorm and a Linear head on the class
    token's output. Small sizes; the structure of the paper's ViT-B/16."""

    def __init__(self, image=32, patch=8, channels=3, dim=32, depth=2, heads=4, mlp=64, classes=10):
        super().__init__()
        self.patch_embed = nn.Conv2d(channels, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, mlp, dropout=0.1, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, images):
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        x = self.norm(self.encoder(x))
        return self.head(x[:, 0])


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018), as MobileNetV3 uses it: a global average,
    a 1x1 conv down and up, a hard sigmoid gate multiplied onto the feature map."""

    def __init__(self, channels, squeezed):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(squeezed, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        scale = self.gate(self.fc2(self.relu(self.fc1(self.avgpool(x)))))
        return scale * x


class MobileInvertedResidual(nn.Module):
    """MobileNetV3's block: 1x1 expansion (when it widens), depthwise conv, optional SE,
    1x1 projection without activation; a residual when stride 1 keeps the width."""

    def __init__(self, cin, kernel, expanded, cout, use_se, activation, stride):
        super().__init__()
        act = nn.Hardswish if activation == "HS" else nn.ReLU
        layers = []
        if expanded != cin:
            layers += [nn.Conv2d(cin, expanded, 1, bias=False), nn.BatchNorm2d(expanded), act()]
        layers += [
            nn.Conv2d(expanded, expanded, kernel, stride, kernel // 2, groups=expanded, bias=False),
            nn.BatchNorm2d(expanded),
            act(),
        ]
        if use_se:
            layers.append(SqueezeExcitation(expanded, _make_divisible(expanded // 4)))
        layers += [nn.Conv2d(expanded, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return y + x if self.use_res else y


def _make_divisible(value, divisor=8):
    """MobileNet's channel rounding: to a multiple of 8, never more than 10% down."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


# (kernel, expanded, out, SE, activation, stride): the first rows of MobileNetV3-Small's
# table (Howard et al., "Searching for MobileNetV3", 2019, Table 2).
MOBILENET_V3_SMALL = (
    (3, 16, 16, True, "RE", 2),
    (3, 72, 24, False, "RE", 2),
    (3, 88, 24, False, "RE", 1),
    (5, 96, 40, True, "HS", 2),
)


class MobileNetV3Small(nn.Module):
    """MobileNetV3-Small (Howard et al., 2019), its first four blocks: a 3x3 stride-2 stem
    with hard swish, inverted residuals with squeeze-and-excitation gates, a 1x1 conv to
    6x the width, global average pooling, and a Linear-Hardswish-Dropout-Linear head."""

    def __init__(self, classes=10, last=64):
        super().__init__()
        stem = [nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish()]
        blocks, cin = [], 16
        for kernel, expanded, cout, use_se, activation, stride in MOBILENET_V3_SMALL:
            blocks.append(
                MobileInvertedResidual(cin, kernel, expanded, cout, use_se, activation, stride)
            )
            cin = cout
        head = [nn.Conv2d(cin, 6 * cin, 1, bias=False), nn.BatchNorm2d(6 * cin), nn.Hardswish()]
        self.features = nn.Sequential(nn.Sequential(*stem), *blocks, nn.Sequential(*head))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(6 * cin, last), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(last, classes)
        )

    def forward(self, x):
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


class ChannelsFirstLayerNorm(nn.LayerNorm):
    """ConvNeXt's LayerNorm over the channels of a (N, C, H, W) map: to channels last,
    normalise, and back."""

    def forward(self, x):
        x = F.layer_norm(
            x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps
        )
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt's block: 7x7 depthwise conv, then channels last: LayerNorm, a 4x MLP with
    GELU as per-position Linears, a learned layer scale (1e-6 at the start), + input."""

    def __init__(self, dim, layer_scale=1e-6):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(layer_scale * torch.ones(dim))

    def forward(self, x):
        y = self.norm(self.dwconv(x).permute(0, 2, 3, 1))
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(y)))
        return x + y.permute(0, 3, 1, 2)


class ConvNeXt(nn.Module):
    """ConvNeXt (Liu et al., "A ConvNet for the 2020s", 2022), two stages: a 4x4 stride-4
    patchify stem with LayerNorm, blocks, a LayerNorm then 2x2 stride-2 conv downsampling,
    global average pooling, a final LayerNorm and a Linear head. Small widths; ConvNeXt-T
    is dims (96, 192, 384, 768), depths (3, 3, 9, 3)."""

    def __init__(self, dims=(16, 32), depths=(1, 1), classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, dims[0], 4, stride=4), ChannelsFirstLayerNorm(dims[0], eps=1e-6)
        )
        self.stage1 = nn.Sequential(*[ConvNeXtBlock(dims[0]) for _ in range(depths[0])])
        self.downsample = nn.Sequential(
            ChannelsFirstLayerNorm(dims[0], eps=1e-6), nn.Conv2d(dims[0], dims[1], 2, stride=2)
        )
        self.stage2 = nn.Sequential(*[ConvNeXtBlock(dims[1]) for _ in range(depths[1])])
        self.norm = nn.LayerNorm(dims[1], eps=1e-6)
        self.head = nn.Linear(dims[1], classes)

    def forward(self, x):
        x = self.stage2(self.downsample(self.stage1(self.stem(x))))
        return self.head(self.norm(x.mean([-2, -1])))


class BahdanauAttention(nn.Module):
    """pytorch/tutorials seq2seq: additive attention, score = Va(tanh(Wa(query) + Ua(keys)))."""

    def __init__(self, hidden_size):
        super().__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys):  # (N, 1, H), (N, L, H)
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))  # (N, L, 1)
        weights = F.softmax(scores.squeeze(2).unsqueeze(1), dim=-1)  # (N, 1, L)
        return torch.bmm(weights, keys), weights


class AttnDecoderRNN(nn.Module):
    """pytorch/tutorials "NLP From Scratch: Translation with a Sequence to Sequence Network
    and Attention": the attention decoder, decoding greedily for max_length steps from the
    start token (its inference path, without teacher forcing). Each step embeds the last
    token, attends over the encoder outputs with the hidden state as query, feeds the
    embedding and context to a GRU, and takes the most likely word as the next token.

    Batch-first states: the hidden state is (N, 1, H), transposed around the GRU call.
    Returns log-probabilities (N, max_length, vocab), the last hidden state and the
    attention weights (N, max_length, L).
    """

    def __init__(self, hidden_size=128, output_size=1000, max_length=10, dropout_p=0.1, sos=0):
        super().__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.attention = BahdanauAttention(hidden_size)
        self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)
        self.dropout = nn.Dropout(dropout_p)
        self.max_length = max_length
        self.sos = sos

    def forward(self, encoder_outputs, encoder_hidden):  # (N, L, H), (N, 1, H)
        batch_size = encoder_outputs.size(0)
        token = torch.empty(batch_size, 1, dtype=torch.long).fill_(self.sos)
        hidden = encoder_hidden
        outputs, attentions = [], []
        for _ in range(self.max_length):
            output, hidden, weights = self.forward_step(token, hidden, encoder_outputs)
            outputs.append(output)
            attentions.append(weights)
            _, topi = output.topk(1)
            token = topi.squeeze(-1).detach()  # the most likely word is the next input
        log_probs = F.log_softmax(torch.cat(outputs, dim=1), dim=-1)
        return log_probs, hidden, torch.cat(attentions, dim=1)

    def forward_step(self, token, hidden, encoder_outputs):
        embedded = self.dropout(self.embedding(token))  # (N, 1, H)
        context, weights = self.attention(hidden, encoder_outputs)
        state = hidden.transpose(0, 1).contiguous()  # (1, N, H)
        output, state = self.gru(torch.cat((embedded, context), dim=2), state)
        return self.out(output), state.transpose(0, 1), weights
