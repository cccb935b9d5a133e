"""PreAct ResNet-18 (He et al. 2016, "Identity Mappings in Deep Residual Networks"), the network of
robust overfitting (Rice, Wong & Kolter 2020) and of RobustBench's PreAct entries.

torchvision has no pre-activation ResNet, so it is written here: each block is BN → ReLU → conv,
twice, and the shortcut (a 1×1 convolution where the shape changes) leaves from the first
activation; after the last stage a BN and a ReLU (a pre-activation net ends un-normalised),
global average pooling and one linear layer. CIFAR stem: 3×3, stride 1, no max-pool.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from benign_lightning.models.normalize import Normalize


class PreActBlock(nn.Module):
    """BN → ReLU → conv, twice (with dropout between, Wide ResNets' option); the shortcut leaves from
    the first activation where the shape changes."""

    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.dropout = dropout
        reshapes = stride != 1 or in_planes != planes
        self.shortcut = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False) if reshapes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = F.relu(self.bn2(self.conv1(out)))
        out = F.dropout(out, p=self.dropout, training=self.training)
        return self.conv2(out) + skip


def pooled_logits(features: torch.Tensor, bn: nn.BatchNorm2d, linear: nn.Linear) -> torch.Tensor:
    """A pre-activation net's head: the last BN and ReLU, global average pooling, one linear layer."""
    out = F.relu(bn(features))
    return linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


class PreActResNet(nn.Module):
    def __init__(self, blocks: tuple[int, ...], num_classes: int, in_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        layers, planes_in = [], 64
        for stage, n in enumerate(blocks):
            planes = 64 * 2**stage
            for i in range(n):
                layers.append(PreActBlock(planes_in, planes, stride=2 if stage > 0 and i == 0 else 1))
                planes_in = planes
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(planes_in)
        self.linear = nn.Linear(planes_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pooled_logits(self.layers(self.conv1(x)), self.bn, self.linear)


def preact_resnet18(num_classes: int, in_shape: tuple[int, int, int], *, mean=None, std=None) -> nn.Module:
    """PreAct ResNet-18 for 32×32 inputs: ≈ 11.17 M parameters with 10 classes."""
    return nn.Sequential(Normalize(mean, std), PreActResNet((2, 2, 2, 2), num_classes, in_shape[0]))
