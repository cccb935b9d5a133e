"""Model registry. Every model takes [0, 1] inputs of ``in_shape`` and returns logits."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from benign_lightning.models.fine2coarse import SumToCoarse
from benign_lightning.models.mlp import mlp
from benign_lightning.models.mnist_cnn import mnist_cnn
from benign_lightning.models.normalize import Normalize
from benign_lightning.models.preact_resnet import preact_resnet18
from benign_lightning.models.torchvision_nets import (
    densenet121,
    parameter_count,
    resnet18,
    resnet50,
    resnet50_imagenet,
    vgg19,
)
from benign_lightning.models.two_layer import two_layer
from benign_lightning.models.wide_resnet import wrn_28_10, wrn_34_10
from benign_lightning.plumbing.errors import ConfigError

MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "mnist_cnn": mnist_cnn,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "vgg19": vgg19,
    "densenet121": densenet121,
    "resnet50_imagenet": resnet50_imagenet,
    "two_layer": two_layer,
    # The robust-training literature's CIFAR networks (Rice et al. 2020; TRADES; Dong et al. 2022).
    "preact_resnet18": preact_resnet18,
    "wrn_28_10": wrn_28_10,
    "wrn_34_10": wrn_34_10,
}


def check_model_name(name: str) -> None:
    if name not in MODELS:
        raise ConfigError(f"arch={name!r} is not a known model; known: {', '.join(sorted(MODELS))}")


def build_model(
    name: str,
    num_classes: int,
    in_shape: Sequence[int] = (1, 28, 28),
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    coarse_of_fine: Sequence[int] | None = None,
    coarse_rule: str = "sum",
    **kwargs,
) -> nn.Module:
    """Build ``name`` for ``num_classes`` classes; ``mean``/``std`` become its first layer. With
    ``coarse_of_fine`` the ``num_classes`` outputs are fine logits read out on coarse classes by
    ``coarse_rule`` (``sum`` or ``max``: ``models.fine2coarse``)."""
    check_model_name(name)
    try:
        net = MODELS[name](num_classes, tuple(in_shape), mean=mean, std=std, **kwargs)
    except TypeError as e:
        raise ConfigError(f"model.kwargs {dict(kwargs)} do not fit arch={name!r}: {e}") from None
    # Fine2Coarse: the net has one output per fine class; the model answers in coarse classes.
    return SumToCoarse(net, coarse_of_fine, coarse_rule) if coarse_of_fine is not None else net


__all__ = ["MODELS", "Normalize", "SumToCoarse", "build_model", "check_model_name", "parameter_count"]
