"""The data of Wang, Zhang and Arora (2024) (seeds 002/003; PAPER.md row ``wang2024``): binary
labels y ∈ {±1} (classes 1 and 0), inputs x = y·μ + ξ in ``d`` dimensions with sub-Gaussian noise
ξ (``xi``: Gaussian N(0, ``xi_std``² I), or Rademacher ±``xi_std`` per coordinate), and the training
labels flipped with probability β (= ``eta``; ``flip`` makes it an exact β fraction, as Theorem 1's).

μ has norm ``mu_norm`` and a random direction drawn from ``layout_seed``. The paper's risk is over
the noisy distribution, so its "robust test error near β" is measured with ``test_label_noise``:
each test label flipped independently with probability β (ours: the paper's abstract gives no
protocol; with ``test_label_noise: false`` the test labels are clean and the target is 0).
"""

from __future__ import annotations

import numpy as np
import torch

from benign_lightning.data.synthetic import SyntheticDataModule
from benign_lightning.plumbing.errors import ConfigError

XI = ("gaussian", "rademacher")


class SignalNoiseDataModule(SyntheticDataModule):
    """x = y·μ + ξ, y ∈ {±1} stored as classes {1, 0}."""

    name = "signal_noise"

    def __init__(self, *, d: int = 1000, mu_norm: float = 5.0, xi: str = "gaussian", xi_std: float = 1.0,
                 test_label_noise: bool = True, **kwargs) -> None:  # fmt: skip
        super().__init__(**kwargs)
        if int(d) < 1 or mu_norm <= 0 or xi_std <= 0:
            raise ConfigError(
                f"data: signal_noise needs d >= 1, mu_norm > 0, xi_std > 0; got {d}, {mu_norm}, {xi_std}"
            )
        if xi not in XI:
            raise ConfigError(f"data.xi={xi!r} is unknown; choose one of {', '.join(XI)}")
        self.d, self.mu_norm, self.xi, self.xi_std = int(d), float(mu_norm), xi, float(xi_std)
        self.test_label_noise = bool(test_label_noise)
        self.in_shape = (self.d,)
        direction = np.random.default_rng(self.layout_seed).normal(size=self.d)
        self.mu = self.mu_norm * direction / np.linalg.norm(direction)

    def sample(self, n, rng):
        y = rng.integers(0, 2, n)
        if self.xi == "gaussian":
            xi = rng.normal(0.0, self.xi_std, (n, self.d))
        else:
            xi = self.xi_std * rng.choice([-1.0, 1.0], (n, self.d))
        x = (2 * y - 1)[:, None] * self.mu[None] + xi
        return x.astype(np.float32), y.astype(np.int64), None

    def load_arrays(self):
        x_train, y_train, x_test, y_test = super().load_arrays()
        if self.test_label_noise and self.eta > 0:
            flip = torch.from_numpy(self._rng(3).random(len(y_test)) < self.eta)
            y_test = torch.where(flip, 1 - y_test, y_test)
        return x_train, y_train, x_test, y_test
