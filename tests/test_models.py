"""The model registry: shapes, normalisation inside the model, clear errors."""

from __future__ import annotations

import pytest
import torch

from benign_lightning.errors import ConfigError
from benign_lightning.models import MODELS, build_model


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("in_shape,num_classes", [((1, 28, 28), 10), ((1, 28, 28), 2), ((3, 32, 32), 100)])
def test_logit_shapes(name, in_shape, num_classes):
    model = build_model(name, num_classes, in_shape)
    assert model(torch.rand(5, *in_shape)).shape == (5, num_classes)


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
    with pytest.raises(ConfigError, match="'resnet9000'.*mlp, mnist_cnn"):
        build_model("resnet9000", 10)


def test_wrong_kwargs_name_the_arch():
    with pytest.raises(ConfigError, match="arch='mnist_cnn'"):
        build_model("mnist_cnn", 10, width=3)
