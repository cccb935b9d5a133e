"""Model registry. Every model takes [0, 1] inputs of ``in_shape`` and returns logits."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from benign_lightning.errors import ConfigError
from benign_lightning.models.mlp import mlp
from benign_lightning.models.mnist_cnn import mnist_cnn
from benign_lightning.models.normalize import Normalize
from benign_lightning.models.torchvision_nets import (
    densenet121,
    parameter_count,
    resnet18,
    resnet50,
    resnet50_imagenet,
    vgg19,
)

MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "mnist_cnn": mnist_cnn,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "vgg19": vgg19,
    "densenet121": densenet121,
    "resnet50_imagenet": resnet50_imagenet,
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
    **kwargs,
) -> nn.Module:
    """Build ``name`` for ``num_classes`` classes; ``mean``/``std`` become its first layer."""
    check_model_name(name)
    try:
        return MODELS[name](num_classes, tuple(in_shape), mean=mean, std=std, **kwargs)
    except TypeError as e:
        raise ConfigError(f"model.kwargs {dict(kwargs)} do not fit arch={name!r}: {e}") from None


__all__ = ["MODELS", "Normalize", "build_model", "check_model_name", "parameter_count"]
