"""The paper's CIFAR and ImageNet architectures, built from torchvision's implementations.

The CIFAR variants (as in the robustness library and pytorch-cifar) keep torchvision's blocks and
replace only the ImageNet stem: a 3×3, stride-1 first convolution and no max-pool, so a 32×32
image reaches the last stage at 4×4. VGG-19 keeps its BatchNorm feature extractor and gets one
linear layer on the 512 pooled features, as the CIFAR variant has. Channels and input size come
from the datamodule (``in_shape``).
"""

from __future__ import annotations

from torch import nn
from torchvision import models as tv
from torchvision.models.vgg import cfgs as vgg_cfgs
from torchvision.models.vgg import make_layers

from benign_lightning.models.normalize import Normalize
from benign_lightning.plumbing.errors import ConfigError


def _stem_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)


def _cifar_resnet(builder, num_classes: int, in_shape, mean, std) -> nn.Module:
    net = builder(num_classes=num_classes)
    net.conv1 = _stem_conv(in_shape[0], 64)
    net.maxpool = nn.Identity()
    return nn.Sequential(Normalize(mean, std), net)


def resnet18(num_classes: int, in_shape: tuple[int, int, int], *, mean=None, std=None) -> nn.Module:
    """CIFAR ResNet-18 (He et al. 2016): ≈ 11.17 M parameters with 10 classes."""
    return _cifar_resnet(tv.resnet18, num_classes, in_shape, mean, std)


def resnet50(num_classes: int, in_shape: tuple[int, int, int], *, mean=None, std=None) -> nn.Module:
    """CIFAR ResNet-50 (Table 1, Figure 9b): ≈ 23.5 M parameters with 10 classes."""
    return _cifar_resnet(tv.resnet50, num_classes, in_shape, mean, std)


def densenet121(num_classes: int, in_shape: tuple[int, int, int], *, mean=None, std=None) -> nn.Module:
    """CIFAR DenseNet-121 (growth rate 32): ≈ 6.96 M parameters with 10 classes."""
    net = tv.densenet121(num_classes=num_classes)
    net.features.conv0 = _stem_conv(in_shape[0], 64)
    net.features.pool0 = nn.Identity()
    return nn.Sequential(Normalize(mean, std), net)


def vgg19(num_classes: int, in_shape: tuple[int, int, int], *, mean=None, std=None) -> nn.Module:
    """CIFAR VGG-19 with BatchNorm: 16 convolutions, 5 max-pools, one linear layer (≈ 20.0 M)."""
    if min(in_shape[1:]) < 32:
        raise ConfigError(f"arch='vgg19' needs inputs of at least 32x32 (5 max-pools); got {in_shape}")
    features = make_layers(vgg_cfgs["E"], batch_norm=True)
    features[0] = nn.Conv2d(in_shape[0], 64, kernel_size=3, padding=1)
    return nn.Sequential(
        Normalize(mean, std),
        features,
        nn.AdaptiveAvgPool2d(1),  # 1×1 already at 32×32; averages larger inputs
        nn.Flatten(),
        nn.Linear(512, num_classes),
    )


def resnet50_imagenet(num_classes: int, in_shape: tuple[int, int, int], *, mean=None, std=None) -> nn.Module:
    """torchvision's ImageNet ResNet-50 (7×7 stem, max-pool), untrained, for Restricted ImageNet."""
    net = tv.resnet50(num_classes=num_classes)
    if in_shape[0] != 3:
        net.conv1 = nn.Conv2d(in_shape[0], 64, kernel_size=7, stride=2, padding=3, bias=False)
    return nn.Sequential(Normalize(mean, std), net)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
