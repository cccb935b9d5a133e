"""Wide ResNets for CIFAR (Zagoruyko & Komodakis 2016): WRN-28-10, the network of Dong et al. (ICLR
2022) and of RobustBench's CIFAR entries, and WRN-34-10, TRADES' (Zhang et al. 2019).

torchvision's ``wide_resnet50_2`` is the ImageNet bottleneck network, not this one, so it is written
here: a 3×3 stem of 16 channels, three stages of (depth − 4) / 6 pre-activation basic blocks
(``preact_resnet.PreActBlock``, with optional dropout) of 16k, 32k and 64k channels (strides 1, 2,
2; a 1×1 convolution on the shortcut where the width or stride changes), then BN, ReLU, global
average pooling and one linear layer. Initialised as the reference implementation (Zagoruyko &
Komodakis, kept by TRADES and by Dong et al.): He-normal convolutions over their fan-out, BatchNorm
at weight 1 and bias 0, the linear layer's bias at 0 (PyTorch's default init differs: the runs
should start where the literature's do).
"""

from __future__ import annotations

import torch
from torch import nn

from benign_lightning.models.normalize import Normalize
from benign_lightning.models.preact_resnet import PreActBlock, pooled_logits
from benign_lightning.plumbing.errors import ConfigError


class WideResNet(nn.Module):
    def __init__(self, depth: int, widen: int, num_classes: int, in_channels: int, dropout: float = 0.0):
        super().__init__()
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ConfigError(f"model.kwargs.depth={depth}: a Wide ResNet has depth 6n + 4 (e.g. 28, 34)")
        n = (depth - 4) // 6
        widths = (16 * widen, 32 * widen, 64 * widen)
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        blocks, planes_in = [], 16
        for stage, planes in enumerate(widths):
            for i in range(n):
                blocks.append(PreActBlock(planes_in, planes, 2 if stage > 0 and i == 0 else 1, dropout))
                planes_in = planes
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(planes_in)
        self.linear = nn.Linear(planes_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pooled_logits(self.blocks(self.conv1(x)), self.bn, self.linear)


def wide_resnet(num_classes: int, in_shape: tuple[int, int, int], *, depth: int = 28, widen: int = 10,
                dropout: float = 0.0, mean=None, std=None) -> nn.Module:  # fmt: skip
    """WRN-``depth``-``widen`` for 32×32 inputs."""
    return nn.Sequential(Normalize(mean, std), WideResNet(depth, widen, num_classes, in_shape[0], dropout))


def wrn_28_10(num_classes: int, in_shape: tuple[int, int, int], *, mean=None, std=None, dropout: float = 0.0):
    """WRN-28-10: ≈ 36.48 M parameters with 10 classes."""
    return wide_resnet(num_classes, in_shape, depth=28, widen=10, dropout=dropout, mean=mean, std=std)


def wrn_34_10(num_classes: int, in_shape: tuple[int, int, int], *, mean=None, std=None, dropout: float = 0.0):
    """WRN-34-10: ≈ 46.16 M parameters with 10 classes."""
    return wide_resnet(num_classes, in_shape, depth=34, widen=10, dropout=dropout, mean=mean, std=std)
