"""Classifiers fitted in closed form whose adversarial error is computed exactly rather than found by
an attack: the large-margin 1-nearest-neighbour of Figure 8d, and Theorem 2's two representations of
the intervals data. A method config whose ``_target_`` is one of them (``method=nearest_neighbor``,
``method=union_of_intervals``, ``method=parity``) runs through ``run`` without a Trainer."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from benign_lightning.data.base import LabelNoiseDataModule
from benign_lightning.plumbing.errors import ConfigError


class ExactClassifier(ABC):
    """``fit`` on the training split, then ``predict`` and the exact ``adversarially_wrong`` at ε."""

    method_name: str
    norms: tuple[str, ...] = ("linf", "l2")
    max_eps: float = math.inf  # the largest ε the exact computation holds for (exclusive)

    def bind(self, datamodule: LabelNoiseDataModule, norm: str, eval_eps: list[float]) -> None:
        """Refuse data, a norm or an ε the exact computation does not cover, naming the key; take
        what the classifier needs from the data."""
        self.check_data(datamodule)
        if norm not in self.norms:
            raise ConfigError(
                f"attack.norm={norm!r}: method={self.method_name} computes exact adversarial errors for "
                f"{', '.join(self.norms)}"
            )
        too_large = [e for e in eval_eps if e >= self.max_eps]
        if too_large:
            raise ConfigError(
                f"eps/attack.eval_eps {too_large}: method={self.method_name} is exact only for eps < "
                f"{self.max_eps:g}"
            )

    def check_data(self, datamodule: LabelNoiseDataModule) -> None:
        """A ConfigError for data the classifier cannot classify; take what it needs from it."""
        return None  # every dataset, unless a classifier says otherwise

    @abstractmethod
    def fit(self, x: np.ndarray, y: np.ndarray) -> ExactClassifier:
        """Fit the (noisy) training labels; return self."""

    @abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Labels of the rows of ``x``."""

    @abstractmethod
    def adversarially_wrong(self, x: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
        """Per row: is some point within ``eps`` of ``x`` (in the bound norm) classified ≠ ``y``?"""

    def adversarially_wrong_by_eps(
        self, x: np.ndarray, y: np.ndarray, grid: list[float]
    ) -> dict[float, np.ndarray]:
        """``adversarially_wrong`` at each ε of ``grid`` (a classifier with a distance to the other
        labels computes it once)."""
        return {eps: self.adversarially_wrong(x, y, eps) for eps in grid}

    def summary(self) -> dict[str, Any]:
        """What the fitted classifier adds to ``results.json``."""
        return {}
