"""The two-layer network of Wang, Zhang and Arora (2024): f(x) = Σ_r a_r φ(⟨w_r, x⟩), width m, the
second-layer signs a_r = ±1/√m fixed (half each; the scaling is ours) and only the first layer W trained, from
N(0, ``init_std``²) weights. It returns the two logits (−f/2, f/2), so the framework's cross-entropy
on them is the paper's logistic loss log(1 + exp(−y f)) for y = ±1 (class 1 is y = +1)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from benign_lightning.plumbing.errors import ConfigError

# "smooth as well as non-smooth activation functions" (the abstract): ReLU, and softplus as the
# smooth one (ours: the abstract does not name it); leaky ReLU (slope 0.1) as in Frei et al. (2022).
ACTIVATIONS = {"relu": F.relu, "softplus": F.softplus, "leaky_relu": lambda z: F.leaky_relu(z, 0.1)}


class TwoLayer(nn.Module):
    def __init__(self, d: int, width: int, activation: str, init_std: float, paired_init: bool = False
                 ) -> None:  # fmt: skip
        super().__init__()
        self.first = nn.Linear(d, width, bias=False)
        nn.init.normal_(self.first.weight, std=init_std)
        if paired_init:  # the symmetric initialisation of the analysis: neuron r + m/2 copies neuron r,
            with torch.no_grad():  # with the opposite sign a_r, so f(x; W0) = 0 for every x
                self.first.weight[width // 2 :] = self.first.weight[: width // 2]
        signs = torch.ones(width)
        signs[width // 2 :] = -1
        self.register_buffer("signs", signs / math.sqrt(width))  # fixed: a buffer, not a parameter
        self.activation_name = activation
        self.activation = ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.activation(self.first(x.flatten(1))) @ self.signs
        return torch.stack([-f / 2, f / 2], 1)


def two_layer(num_classes: int, in_shape: tuple[int, ...], *, mean=None, std=None, width: int = 1000,
              activation: str = "relu", init_std: float = 1e-3,
              paired_init: bool = False) -> TwoLayer:  # fmt: skip
    """Wang et al.'s network for binary data of ``in_shape`` (``mean``/``std`` unused: the data is
    centred by construction)."""
    if num_classes != 2:
        raise ConfigError(f"arch=two_layer is a binary classifier; the data has {num_classes} classes")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"model.kwargs.activation={activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    if width < 2 or width % 2:
        raise ConfigError(f"model.kwargs.width={width}: an even width >= 2 (half the signs +, half -)")
    return TwoLayer(math.prod(in_shape), int(width), activation, float(init_std), bool(paired_init))
