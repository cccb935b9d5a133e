"""Robust training's parts: TRADES' attack, the AT/TRADES losses, BatchNorm during the inner
maximisation, the memorization record, held-out rows and the evaluation's shards."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benign_lightning.attacks import pgd, trades_adversary
from benign_lightning.attacks.pgd import kl_logit_direction
from benign_lightning.data import ToyMNISTDataModule
from benign_lightning.methods import AdversarialTraining, NaturalTraining, Trades
from benign_lightning.models import build_model
from benign_lightning.plumbing.distributed import shard_bounds
from benign_lightning.plumbing.errors import ConfigError


def bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    )


def batch(n: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


def kl_to_natural(model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        p = F.softmax(model(x), 1)
        return F.kl_div(F.log_softmax(model(x_adv), 1), p, reduction="none").sum(1)


def test_kl_direction_is_the_kl_gradient_up_to_a_positive_scale():
    logits = torch.randn(16, 5, dtype=torch.float64, requires_grad=True)
    p = F.softmax(torch.randn(16, 5, dtype=torch.float64), 1)
    (grad,) = torch.autograd.grad(F.kl_div(F.log_softmax(logits, 1), p, reduction="sum"), logits)
    direction = kl_logit_direction(logits.detach(), p)
    scale = grad.abs().amax(1, keepdim=True)
    torch.testing.assert_close(direction * scale, grad)


@pytest.mark.parametrize("norm,eps,step_size", [("linf", 0.1, 0.03), ("l2", 1.0, 0.3)])
def test_trades_adversary_raises_the_kl_inside_the_ball(norm, eps, step_size):
    model = bn_net().eval()
    x, _ = batch()
    x_adv = trades_adversary(model, x, eps=eps, steps=10, step_size=step_size, norm=norm, seed=0)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    delta = (x_adv - x).flatten(1)
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert (size <= eps + 1e-5).all()
    # From the 0.001-noise start, ten steps raise the KL on (nearly) every example, a lot on average.
    one_step = trades_adversary(model, x, eps=eps, steps=1, step_size=step_size, norm=norm, seed=0)
    assert kl_to_natural(model, x, x_adv).mean() > 2 * kl_to_natural(model, x, one_step).mean()
    assert torch.equal(
        x_adv, trades_adversary(model, x, eps=eps, steps=10, step_size=step_size, norm=norm, seed=0)
    )


@pytest.mark.parametrize("attack", ["pgd", "trades"])
def test_inner_maximisation_leaves_batchnorm_alone_unless_asked(attack):
    """bn_eval=True (default): running statistics untouched and train mode kept; False: updated."""
    x, y = batch()
    run = {
        "pgd": lambda m, **kw: pgd(m, x, y, eps=0.1, steps=3, step_size=0.05, **kw),
        "trades": lambda m, **kw: trades_adversary(m, x, eps=0.1, steps=3, step_size=0.05, **kw),
    }[attack]
    model = bn_net().train()
    before = model[1].running_mean.clone()
    run(model)
    assert model.training and torch.equal(model[1].running_mean, before)
    assert all(p.grad is None for p in model.parameters())
    run(model, bn_eval=False)
    assert model.training and not torch.equal(model[1].running_mean, before)


# The training attack's settings as conf/method/{at,trades}.yaml resolve them by default.
ROBUST_DEFAULTS = dict(norm="linf", steps=10, step_size=None, bn_eval=True, seed=0, clamp=(0.0, 1.0))


def _method(cls, **kwargs):
    spec = dict(name="mlp", num_classes=3, in_shape=[1, 8, 8], mean=None, std=None, width=32, depth=1)
    torch.manual_seed(0)
    if cls is not NaturalTraining:
        kwargs = {**ROBUST_DEFAULTS, **({"random_start": True} if cls is AdversarialTraining else {}),
                  **({"beta": 6.0} if cls is Trades else {}), **kwargs}  # fmt: skip
    optimizer = functools.partial(torch.optim.SGD, lr=0.1)
    return cls(build_model(**spec), model_spec=spec, optimizer=optimizer, scheduler=None, **kwargs)


def test_methods_differ_only_in_their_loss():
    x, y = batch()
    natural = _method(NaturalTraining)
    at = _method(AdversarialTraining, eps=0.2, steps=5, random_start=False)
    trades = _method(Trades, eps=0.2, steps=5, beta=6.0)
    zero_beta = _method(Trades, eps=0.2, steps=5, beta=0.0)
    assert [type(m).configure_optimizers for m in (at, trades)] == [NaturalTraining.configure_optimizers] * 2
    (nat_loss, nat_logits), (at_loss, at_logits), (trades_loss, trades_logits) = (
        (losses.mean(), logits) for losses, logits in (m.loss(x, y) for m in (natural, at, trades))
    )
    # AT's loss is the CE on the PGD example: higher than the natural CE of the same weights.
    assert at_loss > nat_loss and not torch.equal(at_logits, nat_logits)
    # TRADES returns the natural logits; beta = 0 is natural training exactly, beta > 0 adds the KL.
    torch.testing.assert_close(zero_beta.loss(x, y)[0].mean(), nat_loss)
    torch.testing.assert_close(trades_logits, nat_logits)
    assert trades_loss > nat_loss
    assert at.step_size == pytest.approx(2.5 * 0.2 / 5)  # Madry et al.'s rule when none is given


def test_robust_methods_reject_bad_attack_settings():
    with pytest.raises(ConfigError, match="norm='l3' is unknown"):
        _method(AdversarialTraining, eps=0.1, norm="l3")
    with pytest.raises(ConfigError, match="got eps=-0.1"):
        _method(Trades, eps=-0.1)
    with pytest.raises(ConfigError, match="method.beta must be >= 0, got -1"):
        _method(Trades, eps=0.1, beta=-1)


def test_heldout_rows_are_drawn_after_the_noise_and_excluded_from_training():
    common = dict(eta=0.2, data_seed=3, n_train=500, n_test=50)
    full = ToyMNISTDataModule(**common)
    held = ToyMNISTDataModule(holdout=0.2, **common)
    full.setup(), held.setup()
    assert torch.equal(torch.from_numpy(full.noise.noisy_labels), torch.from_numpy(held.noise.noisy_labels))
    mask = torch.from_numpy(held.heldout_mask)
    assert int(mask.sum()) == 100 and len(held.train) == 400 and len(held.heldout) == 100
    assert torch.equal(held.train.y, full.train.y[~mask]) and torch.equal(held.heldout.y, full.train.y[mask])
    assert torch.equal(held.clean_train_labels, full.clean_train_labels[~mask])
    assert full.noise_digest() != held.noise_digest()
    with pytest.raises(ConfigError, match="data.holdout must be a fraction in"):
        ToyMNISTDataModule(holdout=2.5)


@pytest.mark.parametrize("n,world", [(10, 2), (7, 3), (2, 4), (1000, 1)])
def test_shards_partition_the_rows(n, world):
    bounds = shard_bounds(n, world)
    rows = [i for start, stop in bounds for i in range(start, stop)]
    assert rows == list(range(n))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1
