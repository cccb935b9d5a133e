"""PGD: the closed-form optimum on a linear classifier, the ε-ball and box, modes and gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from benign_lightning.attacks import pgd


def linear_binary(d: int, seed: int = 0) -> tuple[nn.Linear, torch.Tensor]:
    """Logits (0, w·x + b): class 1 iff w·x + b > 0."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=g)
    layer = nn.Linear(d, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.stack([torch.zeros(d), w]))
        layer.bias.copy_(torch.tensor([0.0, 0.1]))
    return layer, w


@pytest.mark.parametrize("steps,step_size", [(1, 0.2), (20, 0.01), (50, 0.05)])
def test_linf_reaches_closed_form_optimum_on_linear_classifier(steps, step_size):
    d, eps = 20, 0.1
    model, w = linear_binary(d)
    x = 0.4 + 0.2 * torch.rand(64, d, generator=torch.Generator().manual_seed(1))  # clamp never binds
    y = torch.randint(0, 2, (64,), generator=torch.Generator().manual_seed(2))
    x_adv = pgd(model, x, y, eps=eps, steps=steps, step_size=step_size, norm="linf")
    optimum = x - eps * torch.sign(w) * (2 * y - 1).unsqueeze(1).float()
    torch.testing.assert_close(x_adv, optimum, atol=1e-6, rtol=0)


def test_no_gradient_masking_by_float32_underflow():
    """Margins of 100-500: the float32 cross-entropy gradient is exactly 0, yet PGD still moves."""
    d, eps = 20, 0.1
    model, w = linear_binary(d)
    with torch.no_grad():
        model.weight.mul_(50.0)  # margins up to ~500: beyond float32's exp range, inside float64's
        model.bias.mul_(50.0)
    x = 0.4 + 0.2 * torch.rand(64, d, generator=torch.Generator().manual_seed(1))
    y = model(x).argmax(1)
    x_req = x.clone().requires_grad_(True)
    (plain_grad,) = torch.autograd.grad(nn.functional.cross_entropy(model(x_req), y, reduction="sum"), x_req)
    masked = (plain_grad == 0).all(1)
    assert masked.sum() >= 16  # these rows give a textbook PGD nothing to follow
    x_adv = pgd(model, x, y, eps=eps, steps=3, step_size=0.05)
    optimum = x - eps * torch.sign(w) * (2 * y - 1).unsqueeze(1).float()
    torch.testing.assert_close(x_adv, optimum, atol=1e-6, rtol=0)


def small_net(bn: bool = False) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Conv2d(1, 4, 3), nn.ReLU()]
    if bn:
        layers.append(nn.BatchNorm2d(4))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("random_start,restarts", [(False, 1), (True, 1), (True, 3)])
def test_stays_in_eps_ball_and_unit_box(norm, random_start, restarts):
    model = small_net()
    x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    x[:, :, :2] = 0.0  # pixels at the box edges, where the clamp matters
    x[:, :, -2:] = 1.0
    y = torch.randint(0, 3, (32,), generator=torch.Generator().manual_seed(4))
    eps = 0.3 if norm == "linf" else 1.5
    x_adv = pgd(
        model,
        x,
        y,
        eps=eps,
        steps=15,
        step_size=eps / 4,
        norm=norm,
        random_start=random_start,
        restarts=restarts,
        seed=0,
    )
    assert x_adv.shape == x.shape
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    delta = (x_adv - x).flatten(1)
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert (size <= eps + 1e-5).all()
    assert (size > 0).any()


def test_attack_raises_the_loss_and_is_seeded():
    model = small_net()
    x = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(5))
    y = model(x).argmax(1)  # all correctly classified to start with
    kwargs = dict(eps=0.2, steps=10, step_size=0.05, random_start=True, restarts=2)
    a, b = pgd(model, x, y, seed=1, **kwargs), pgd(model, x, y, seed=1, **kwargs)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    loss = nn.functional.cross_entropy
    assert loss(model(a), y) > loss(model(x), y)
    assert (model(a).argmax(1) != y).float().mean() > 0.2


def test_restarts_never_do_worse_than_their_first_run():
    model = small_net()
    x = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(6))
    y = model(x).argmax(1)
    single = pgd(model, x, y, eps=0.05, steps=5, step_size=0.01, random_start=True, restarts=1, seed=3)
    multi = pgd(model, x, y, eps=0.05, steps=5, step_size=0.01, random_start=True, restarts=4, seed=3)
    wrong_single = model(single).argmax(1) != y
    wrong_multi = model(multi).argmax(1) != y
    assert (wrong_multi | ~wrong_single).all()  # every example fooled by restart 1 stays fooled
    assert wrong_multi.sum() >= wrong_single.sum()


def test_early_stop_only_raises_the_error():
    model = small_net()
    x = torch.rand(128, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    y = model(x).argmax(1)
    kwargs = dict(eps=0.1, steps=30, step_size=0.02)
    final = model(pgd(model, x, y, **kwargs)).argmax(1) != y
    early = model(pgd(model, x, y, early_stop=True, **kwargs)).argmax(1) != y
    assert (early | ~final).all()


def test_early_stop_keeps_points_misclassified_from_the_start():
    model = small_net()
    x = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    y = model(x).argmax(1)
    y[:16] = (y[:16] + 1) % 3  # wrong before any step: they leave at once, unchanged
    for norm in ("linf", "l2"):
        x_adv = pgd(model, x, y, eps=0.1, steps=5, step_size=0.02, norm=norm, early_stop=True)
        assert torch.equal(x_adv[:16], x[:16])


def test_eval_mode_no_parameter_gradients_and_mode_restored():
    model = small_net(bn=True).train()
    bn = model[2]
    before = bn.running_mean.clone(), bn.num_batches_tracked.clone()
    x = torch.rand(16, 1, 8, 8)
    y = torch.randint(0, 3, (16,))
    pgd(model, x, y, eps=0.1, steps=5, step_size=0.02)
    assert model.training  # restored
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.num_batches_tracked, before[1])
    assert all(p.grad is None for p in model.parameters())


def test_zero_budget_returns_the_input_and_bad_norm_is_rejected():
    model = small_net()
    x = torch.rand(4, 1, 8, 8)
    y = torch.zeros(4, dtype=torch.long)
    assert torch.equal(pgd(model, x, y, eps=0.0, steps=10, step_size=0.1), x)
    with pytest.raises(ValueError, match="linf, l2"):
        pgd(model, x, y, eps=0.1, steps=1, step_size=0.1, norm="l1")
