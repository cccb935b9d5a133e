"""Wang et al. (2024)'s data and network: x = y mu + xi with the stated noise, the exact number of
flipped training labels, test-label noise, determinism; the two-layer net trains only its first layer
and its cross-entropy is the logistic loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from benign_lightning.data import SignalNoiseDataModule
from benign_lightning.models import build_model
from benign_lightning.plumbing.errors import ConfigError


def _dm(**kwargs) -> SignalNoiseDataModule:
    dm = SignalNoiseDataModule(**{"d": 50, "mu_norm": 3.0, "n_train": 400, "n_test": 4000, **kwargs})
    dm.setup()
    return dm


def test_inputs_are_signal_plus_noise_with_the_stated_norms():
    dm = _dm(eta=0.0)
    x, y = dm.test.x.double(), dm.test.y
    assert x.shape == (4000, 50) and set(y.tolist()) == {0, 1}
    sign = (2 * y - 1).double()[:, None]
    mu = torch.from_numpy(dm.mu)
    assert float(mu.norm()) == pytest.approx(3.0)
    xi = x - sign * mu
    assert float(xi.std()) == pytest.approx(1.0, abs=0.02)  # N(0, I)
    assert float((xi @ mu).abs().mean() / 3.0) < 1.0  # noise is independent of mu: |<xi, mu/|mu|>| ~ 0.8
    assert float(((x @ mu > 0).long() == y).double().mean()) > 0.99  # Bayes rule: Phi(-3) error
    rad = _dm(xi="rademacher", xi_std=0.5, eta=0.0)
    noise = rad.test.x.double() - (2 * rad.test.y - 1).double()[:, None] * torch.from_numpy(rad.mu)
    assert torch.allclose(noise.abs(), torch.full_like(noise, 0.5), atol=1e-5)


def test_exact_training_noise_test_noise_and_determinism():
    dm = _dm(eta=0.1)
    assert int(dm.noise.corrupted.sum()) == 40  # an exact beta fraction of the training labels
    clean = _dm(eta=0.1, test_label_noise=False)
    flipped = float((dm.test.y != clean.test.y).double().mean())
    assert 0.08 < flipped < 0.12 and torch.equal(dm.test.x, clean.test.x)
    again = _dm(eta=0.1)
    assert torch.equal(dm.train.x, again.train.x) and torch.equal(dm.train.y, again.train.y)
    other = _dm(eta=0.1, data_seed=1)
    assert not torch.equal(dm.train.x, other.train.x) and (dm.mu == other.mu).all()  # mu from layout_seed


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="data.xi='laplace'"):
        SignalNoiseDataModule(xi="laplace")
    with pytest.raises(ConfigError, match="mu_norm > 0"):
        SignalNoiseDataModule(mu_norm=0)
    with pytest.raises(ConfigError, match="binary classifier"):
        build_model("two_layer", 3, (5,))
    with pytest.raises(ConfigError, match="activation='tanh'"):
        build_model("two_layer", 2, (5,), activation="tanh")


@pytest.mark.parametrize("activation", ["relu", "softplus"])
def test_two_layer_trains_only_the_first_layer_and_its_ce_is_the_logistic_loss(activation):
    net = build_model("two_layer", 2, (7,), width=10, activation=activation, init_std=0.5)
    assert [name for name, _ in net.named_parameters()] == ["first.weight"]
    assert sorted(net.signs.unique().tolist()) == pytest.approx([-10**-0.5, 10**-0.5])
    x, y = torch.randn(32, 7), torch.randint(0, 2, (32,))
    logits = net(x)
    f = logits[:, 1] - logits[:, 0]
    logistic = F.softplus(-(2 * y - 1) * f).mean()
    assert float(F.cross_entropy(logits, y)) == pytest.approx(float(logistic), rel=1e-5)
