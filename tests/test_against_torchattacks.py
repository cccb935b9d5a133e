"""Our PGD is at least as strong as an independent implementation (torchattacks) on a trained
MNIST model: same ε, steps and step size, no random start, ℓ∞ and ℓ2."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from benign_lightning.attacks import pgd
from benign_lightning.data import MNISTDataModule
from benign_lightning.models import build_model

torchattacks = pytest.importorskip("torchattacks")


@pytest.fixture(scope="module")
def trained_mnist(mnist_root):
    """An MLP trained for 5 epochs on 3000 real MNIST images; 1000 test images to attack."""
    dm = MNISTDataModule(data_dir=str(mnist_root), train_subset=3000, test_subset=1000, data_seed=0)
    dm.setup()
    torch.manual_seed(0)
    model = build_model(
        "mlp", num_classes=10, in_shape=[1, 28, 28], mean=dm.mean, std=dm.std, width=256, depth=2
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        for x, y, _ in dm.train_dataloader():
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    model.eval()
    x, y = dm.test.inputs(torch.arange(len(dm.test))), dm.test.y
    return model, x, y


def adv_error(model, x_adv, y) -> float:
    with torch.no_grad():
        return float((model(x_adv).argmax(1) != y).double().mean())


@pytest.mark.parametrize(
    "norm,eps,steps,step_size",
    [("linf", 0.1, 10, 0.02), ("linf", 0.05, 20, 0.005), ("l2", 1.0, 10, 0.25), ("l2", 0.5, 20, 0.05)],
)
def test_our_pgd_is_at_least_as_strong_as_torchattacks(trained_mnist, norm, eps, steps, step_size):
    model, x, y = trained_mnist
    natural = adv_error(model, x, y)
    ours = adv_error(model, pgd(model, x, y, eps=eps, steps=steps, step_size=step_size, norm=norm), y)
    cls = torchattacks.PGD if norm == "linf" else torchattacks.PGDL2
    theirs_attack = cls(model, eps=eps, alpha=step_size, steps=steps, random_start=False)
    theirs = adv_error(model, theirs_attack(x, y), y)
    # A meaningful comparison: the attack matters (well above the natural error, not saturated).
    assert natural < 0.15 and natural + 0.05 < theirs < 0.99, (natural, theirs)
    assert ours >= theirs - 0.01, (norm, eps, ours, theirs)
    # The evaluation's setting (an example stops at its first misclassified iterate) only adds errors.
    x_stop = pgd(model, x, y, eps=eps, steps=steps, step_size=step_size, norm=norm, early_stop=True)
    assert adv_error(model, x_stop, y) >= ours
