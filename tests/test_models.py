"""The model registry: shapes, normalisation inside the model, clear errors."""

from __future__ import annotations

import pytest
import torch

from benign_lightning.models import MODELS, build_model, parameter_count
from benign_lightning.plumbing.errors import ConfigError


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("in_shape,num_classes", [((1, 28, 28), 10), ((1, 28, 28), 2), ((3, 32, 32), 100)])
def test_logit_shapes(name, in_shape, num_classes):
    if name == "vgg19" and in_shape[1] < 32:
        with pytest.raises(ConfigError, match="arch='vgg19' needs inputs of at least 32x32"):
            build_model(name, num_classes, in_shape)
        return
    if name == "two_layer" and num_classes != 2:
        with pytest.raises(ConfigError, match="arch=two_layer is a binary classifier"):
            build_model(name, num_classes, in_shape)
        return
    model = build_model(name, num_classes, in_shape).eval()
    assert model(torch.rand(2, *in_shape)).shape == (2, num_classes)


@pytest.mark.parametrize(
    "name,millions",
    [
        ("resnet18", 11.17),
        ("resnet50", 23.52),
        ("vgg19", 20.04),
        ("densenet121", 6.96),
        ("resnet50_imagenet", 23.53),
        ("preact_resnet18", 11.17),  # Rice et al. 2020's network: 11,172,170
        ("wrn_28_10", 36.48),  # 36,479,194, as RobustBench's WideResNet-28-10
        ("wrn_34_10", 46.16),  # 46,160,474, as TRADES' WideResNet-34-10
    ],
)
def test_parameter_counts_with_ten_classes(name, millions):
    """The CIFAR variants' sizes (3x3 stem, no max-pool), as in pytorch-cifar and the robustness library."""
    assert parameter_count(build_model(name, 10, (3, 32, 32))) / 1e6 == pytest.approx(millions, abs=0.005)


def test_cifar_stem_keeps_the_resolution():
    """No max-pool and a stride-1 3x3 first conv: a 32x32 image reaches the last stage at 4x4."""
    net = build_model("resnet18", 10, (3, 32, 32))[1]
    stages = [net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4]
    assert torch.nn.Sequential(*stages)(torch.rand(1, 3, 32, 32)).shape[-2:] == (4, 4)


def test_mnist_cnn_matches_appendix_d1():
    model = build_model("mnist_cnn", 10, (1, 28, 28))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256]
    assert [c.kernel_size[0] for c in convs] == [3, 4, 3, 3]
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [lin.out_features for lin in linears] == [1024, 10]


def test_mlp_width_and_depth():
    model = build_model("mlp", 2, (1, 28, 28), width=64, depth=3)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [lin.out_features for lin in linears] == [64, 64, 64, 2]


def test_normalisation_is_the_first_layer():
    torch.manual_seed(0)
    a = build_model("mlp", 10, (1, 28, 28), mean=(0.5,), std=(0.25,))
    torch.manual_seed(0)
    b = build_model("mlp", 10, (1, 28, 28))
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(a(x), b((x - 0.5) / 0.25))


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="'resnet9000'.*mnist_cnn, preact_resnet18, resnet18"):
        build_model("resnet9000", 10)


def test_wrong_kwargs_name_the_arch():
    with pytest.raises(ConfigError, match="arch='mnist_cnn'"):
        build_model("mnist_cnn", 10, width=3)


@pytest.mark.parametrize("name", ["preact_resnet18", "wrn_28_10", "wrn_34_10"])
def test_robust_training_architectures_train_on_cpu(name):
    """One SGD step of the adversarial-training literature's networks on CIFAR-shaped [0, 1] inputs:
    logits of the right shape, a gradient on every parameter, and the loss going down on that batch
    (16×16 images: the cost of a CPU test; the pooling is global, so 32×32 runs the same layers)."""
    torch.manual_seed(0)
    model = build_model(name, 10, (3, 16, 16), mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
    x, y = torch.rand(2, 3, 16, 16), torch.tensor([0, 1])
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    opt.step()
    assert torch.nn.functional.cross_entropy(model(x), y) < loss
    assert model.eval()(x).shape == (2, 10)


def test_wide_resnet_depth_is_checked():
    from benign_lightning.models.wide_resnet import wide_resnet

    with pytest.raises(ConfigError, match="depth=30: a Wide ResNet has depth 6n \\+ 4"):
        wide_resnet(10, (3, 32, 32), depth=30)


def test_wide_resnet_starts_from_the_reference_init():
    """He-normal over the fan-out (std √(2 / (k² · out))), as the reference WRN; PyTorch's default
    (uniform, std 1 / √(3 · k² · in)) is 2.4× smaller for these convolutions and fails this."""
    from benign_lightning.models.wide_resnet import WideResNet

    torch.manual_seed(0)
    net = WideResNet(depth=10, widen=4, num_classes=10, in_channels=3)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.numel() > 10_000]
    assert convs
    for conv in convs:
        expected = (2 / (conv.kernel_size[0] * conv.kernel_size[1] * conv.out_channels)) ** 0.5
        assert float(conv.weight.std()) == pytest.approx(expected, rel=0.05)
    assert float(net.linear.bias.abs().max()) == 0 and float(net.bn.weight.min()) == 1
