"""The paper's models that torchvision lacks, defined from their published architecture descriptions.

Workstation only: this module imports torch at import time; :mod:`edgeprof.workstation.zoo` imports it lazily
inside ``build``. Each class says where its definition comes from and where it may differ from the
network the paper measured. None of them ships trained weights: they are exported with random
weights, and the manifest takes their accuracy from the paper's Fig. 2.
"""
import torch
import torch.nn.functional as F
from torch import nn

TORCH_BN_EPS = 1e-3  # nn.SpatialBatchNormalization(n, 1e-3) in the Torch7 recipes below


class BNAlexNet(nn.Sequential):
    """BN-AlexNet: the single-GPU "one weird trick" AlexNet with batch normalization.

    Source: ``models/alexnetowtbn.lua`` of soumith/imagenet-multiGPU.torch, the Torch7 recipe the
    paper's authors' community trained (channels 64-192-384-256-256 after Krizhevsky 2014,
    arXiv:1404.5997; BatchNorm with eps 1e-3 after every convolution and both hidden fully connected
    layers; convolutions keep their biases, as Torch7's did).
    Differences: the recipe ends in LogSoftMax, here the graph ends at the logits (it changes no
    count that matters). Dropout is kept and vanishes in eval mode, as in the recipe.
    """

    def __init__(self, num_classes=1000):
        super().__init__(
            _conv_bn_relu(3, 64, 11, stride=4, padding=2),
            nn.MaxPool2d(3, 2),
            _conv_bn_relu(64, 192, 5, padding=2),
            nn.MaxPool2d(3, 2),
            _conv_bn_relu(192, 384, 3, padding=1),
            _conv_bn_relu(384, 256, 3, padding=1),
            _conv_bn_relu(256, 256, 3, padding=1),
            nn.MaxPool2d(3, 2),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(256 * 6 * 6, 4096),
            nn.BatchNorm1d(4096, eps=TORCH_BN_EPS),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.BatchNorm1d(4096, eps=TORCH_BN_EPS),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )


def _conv_bn_relu(in_channels, out_channels, kernel, stride=1, padding=0):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding),
        nn.BatchNorm2d(out_channels, eps=TORCH_BN_EPS),
        nn.ReLU(inplace=True),
    )


class BNNIN(nn.Sequential):
    """BN-NIN: Network in Network (Lin et al. 2013, arXiv:1312.4400) with batch normalization.

    Source: ``models/ninbn.lua`` of soumith/imagenet-multiGPU.torch, whose header reports 62.6 %
    top-1, the value of the paper's Fig. 2 (62.62 %); its 8.64 M parameters also match the figure.
    Four mlpconv blocks (a k x k convolution then two 1x1 convolutions, each followed by BatchNorm
    eps 1e-3 and ReLU) of 96, 256, 384 and 1024 channels, 3x3/2 max pooling with padding 1 between
    them, a 7x7 average pool and a 1024 -> 1000 linear classifier.
    Differences: the recipe ends in LogSoftMax, here the graph ends at the logits.
    """

    def __init__(self, num_classes=1000):
        super().__init__(
            _mlpconv(3, 96, 11, stride=4, padding=5),
            nn.MaxPool2d(3, 2, padding=1),
            _mlpconv(96, 256, 5, padding=2),
            nn.MaxPool2d(3, 2, padding=1),
            _mlpconv(256, 384, 3, padding=1),
            nn.MaxPool2d(3, 2, padding=1),
            _mlpconv(384, 1024, 3, padding=1),
            nn.AvgPool2d(7, 1),
            nn.Flatten(),
            nn.Linear(1024, num_classes),
        )


def _mlpconv(in_channels, out_channels, kernel, stride=1, padding=0):
    return nn.Sequential(
        _conv_bn_relu(in_channels, out_channels, kernel, stride=stride, padding=padding),
        _conv_bn_relu(out_channels, out_channels, 1),
        _conv_bn_relu(out_channels, out_channels, 1),
    )


class _ENetInitial(nn.Module):
    """ENet's initial block: a 3x3/2 convolution (13 filters) beside a 2x2 max pool of the input."""

    def __init__(self, out_channels=16):
        super().__init__()
        self.conv = nn.Conv2d(3, out_channels - 3, 3, stride=2, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2, 2)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.PReLU(out_channels)

    def forward(self, x):
        return self.act(self.bn(torch.cat([self.conv(x), self.pool(x)], 1)))


class _ENetBottleneck(nn.Module):
    """ENet's bottleneck: 1x1 projection, a main convolution, 1x1 expansion, added to the input.

    Args:
        kind: ``regular`` (3x3), ``dilated`` (3x3 with ``dilation``), ``asymmetric`` (5x1 then 1x5)
            or ``down`` (2x2/2 projection; the shortcut is a 2x2 max pool padded with zero channels).
        ratio: how many times fewer channels the bottleneck's inside has than its output.
    """

    def __init__(self, in_channels, out_channels, kind="regular", dilation=1, ratio=4):
        super().__init__()
        mid = out_channels // ratio
        self.in_channels = in_channels
        self.down = kind == "down"
        if kind == "asymmetric":
            main = [nn.Conv2d(mid, mid, (5, 1), padding=(2, 0), bias=False),
                    nn.Conv2d(mid, mid, (1, 5), padding=(0, 2), bias=False)]
        else:
            main = [nn.Conv2d(mid, mid, 3, padding=dilation, dilation=dilation, bias=False)]
        project = nn.Conv2d(in_channels, mid, 2 if self.down else 1, stride=2 if self.down else 1,
                            bias=False)
        self.branch = nn.Sequential(
            project, nn.BatchNorm2d(mid), nn.PReLU(mid),
            nn.Sequential(*main), nn.BatchNorm2d(mid), nn.PReLU(mid),
            nn.Conv2d(mid, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels),
        )
        self.pool = nn.MaxPool2d(2, 2) if self.down else None
        self.act = nn.PReLU(out_channels)

    def forward(self, x):
        branch = self.branch(x)
        if not self.down:
            return self.act(branch + x)
        # Adding the pooled input padded with zero channels, written without a Pad node (whose
        # pads the exporter computes at run time, hiding every later shape from shape inference).
        kept = self.in_channels
        pooled = self.pool(x)
        return self.act(torch.cat([branch[:, :kept] + pooled, branch[:, kept:]], 1))


# ENet paper, Table 1: the bottlenecks of stages 2 and 3 after bottleneck2.0.
_ENET_STAGE = (("regular", 1), ("dilated", 2), ("asymmetric", 1), ("dilated", 4),
               ("regular", 1), ("dilated", 8), ("asymmetric", 1), ("dilated", 16))


class ENetClassifier(nn.Module):
    """ENet (Paszke et al. 2016, arXiv:1606.02147) used as an ImageNet classifier.

    Source: the encoder of the ENet paper's Table 1 (initial block; stage 1: a downsampling
    bottleneck to 64 channels and 4 bottlenecks; stage 2: a downsampling bottleneck to 128 channels
    and 8 regular/dilated/asymmetric bottlenecks; stage 3: the same 8 again), then global average
    pooling and a 128 -> 1000 linear layer.
    Differences: the classifier variant that the analysis paper measured is not described in any
    paper; its Fig. 2 gives it about 5.9 M parameters and 1.6 G-Ops, so it was wider or deeper than
    this encoder (about 0.5 M parameters). Spatial dropout is left out (it is the identity at
    inference), and the downsampling max pool keeps no indices (no decoder uses them).
    """

    def __init__(self, num_classes=1000):
        super().__init__()
        layers = [_ENetInitial(16), _ENetBottleneck(16, 64, "down")]
        layers += [_ENetBottleneck(64, 64) for _ in range(4)]
        layers.append(_ENetBottleneck(64, 128, "down"))
        for _ in range(2):
            layers += [_ENetBottleneck(128, 128, kind, dilation) for kind, dilation in _ENET_STAGE]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(128, num_classes)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class _Conv(nn.Sequential):
    """Inception-v4's unit: convolution without bias, BatchNorm (eps 1e-3), ReLU."""

    def __init__(self, in_channels, out_channels, kernel, stride=1, padding=0):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(out_channels, eps=1e-3),
            nn.ReLU(inplace=True),
        )


class _Branches(nn.Module):
    """Parallel branches concatenated along channels."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], 1)


class _SplitTail(nn.Module):
    """A branch whose last step splits in a 1x3 and a 3x1 convolution (Inception-C)."""

    def __init__(self, head, in_channels, out_channels):
        super().__init__()
        self.head = head
        self.wide = _Conv(in_channels, out_channels, (1, 3), padding=(0, 1))
        self.tall = _Conv(in_channels, out_channels, (3, 1), padding=(1, 0))

    def forward(self, x):
        x = self.head(x)
        return torch.cat([self.wide(x), self.tall(x)], 1)


def _avg_pool_conv(in_channels, out_channels):
    return nn.Sequential(nn.AvgPool2d(3, 1, padding=1, count_include_pad=False),
                         _Conv(in_channels, out_channels, 1))


def _inception_v4_stem():
    """Fig. 3 of the Inception-v4 paper: 299x299x3 -> 35x35x384."""
    return nn.Sequential(
        _Conv(3, 32, 3, stride=2), _Conv(32, 32, 3), _Conv(32, 64, 3, padding=1),
        _Branches(nn.MaxPool2d(3, 2), _Conv(64, 96, 3, stride=2)),
        _Branches(nn.Sequential(_Conv(160, 64, 1), _Conv(64, 96, 3)),
                  nn.Sequential(_Conv(160, 64, 1), _Conv(64, 64, (7, 1), padding=(3, 0)),
                                _Conv(64, 64, (1, 7), padding=(0, 3)), _Conv(64, 96, 3))),
        _Branches(_Conv(192, 192, 3, stride=2), nn.MaxPool2d(3, 2)),
    )


def _inception_a():
    """Fig. 4: 35x35x384 -> 35x35x384."""
    return _Branches(
        _avg_pool_conv(384, 96),
        _Conv(384, 96, 1),
        nn.Sequential(_Conv(384, 64, 1), _Conv(64, 96, 3, padding=1)),
        nn.Sequential(_Conv(384, 64, 1), _Conv(64, 96, 3, padding=1), _Conv(96, 96, 3, padding=1)),
    )


def _reduction_a():
    """Fig. 7 with Inception-v4's k=192, l=224, m=256, n=384 (Table 1): 35x35x384 -> 17x17x1024."""
    return _Branches(
        nn.MaxPool2d(3, 2),
        _Conv(384, 384, 3, stride=2),
        nn.Sequential(_Conv(384, 192, 1), _Conv(192, 224, 3, padding=1), _Conv(224, 256, 3, stride=2)),
    )


def _inception_b():
    """Fig. 5: 17x17x1024 -> 17x17x1024."""
    return _Branches(
        _avg_pool_conv(1024, 128),
        _Conv(1024, 384, 1),
        nn.Sequential(_Conv(1024, 192, 1), _Conv(192, 224, (1, 7), padding=(0, 3)),
                      _Conv(224, 256, (7, 1), padding=(3, 0))),
        nn.Sequential(_Conv(1024, 192, 1), _Conv(192, 192, (1, 7), padding=(0, 3)),
                      _Conv(192, 224, (7, 1), padding=(3, 0)), _Conv(224, 224, (1, 7), padding=(0, 3)),
                      _Conv(224, 256, (7, 1), padding=(3, 0))),
    )


def _reduction_b():
    """Fig. 8: 17x17x1024 -> 8x8x1536."""
    return _Branches(
        nn.MaxPool2d(3, 2),
        nn.Sequential(_Conv(1024, 192, 1), _Conv(192, 192, 3, stride=2)),
        nn.Sequential(_Conv(1024, 256, 1), _Conv(256, 256, (1, 7), padding=(0, 3)),
                      _Conv(256, 320, (7, 1), padding=(3, 0)), _Conv(320, 320, 3, stride=2)),
    )


def _inception_c():
    """Fig. 6: 8x8x1536 -> 8x8x1536."""
    return _Branches(
        _avg_pool_conv(1536, 256),
        _Conv(1536, 256, 1),
        _SplitTail(_Conv(1536, 384, 1), 384, 256),
        _SplitTail(nn.Sequential(_Conv(1536, 384, 1), _Conv(384, 448, (1, 3), padding=(0, 1)),
                                 _Conv(448, 512, (3, 1), padding=(1, 0))), 512, 256),
    )


class InceptionV4(nn.Module):
    """Inception-v4 (Szegedy et al. 2016, arXiv:1602.07261), for 299x299 input.

    Source: the paper's Fig. 9 (overall schema), Figs. 3-8 (stem, Inception-A/B/C, Reduction-A/B)
    and Table 1 (k=192, l=224, m=256, n=384); every convolution is followed by BatchNorm and ReLU.
    Differences: the paper leaves open details that implementations choose: here convolutions have
    no bias, BatchNorm eps is 1e-3, padded average pools exclude the padding, and the order of
    each 1x7/7x1 pair follows the figures (it changes no count). The dropout before the classifier
    (keep 0.8) is the identity at inference and is left out. The analysis paper's Fig. 2 gives its
    Inception-v4 fewer parameters (about 32 M) than this definition (about 43 M).
    """

    def __init__(self, num_classes=1000):
        super().__init__()
        blocks = [_inception_v4_stem()]
        blocks += [_inception_a() for _ in range(4)]
        blocks.append(_reduction_a())
        blocks += [_inception_b() for _ in range(7)]
        blocks.append(_reduction_b())
        blocks += [_inception_c() for _ in range(3)]
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Linear(1536, num_classes)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
