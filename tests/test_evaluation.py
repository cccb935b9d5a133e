"""Evaluation a reviewer accepts: ℓ2 PGD's optimum, the margin loss, AutoAttack against PGD, the
monotone ε envelope, steps that reach every ε, sanity checks that catch gradient masking, and
Student's t bands."""

from __future__ import annotations

import logging
import math
import statistics
import sys

import pytest
import torch
from conftest import QUIET, read_json
from test_config import composed, options
from test_pgd import linear_binary
from torch import nn

from benign_lightning.analysis.sweeps import _mean_ci
from benign_lightning.attacks import pgd
from benign_lightning.attacks.spec import AttackSpec
from benign_lightning.config import validate
from benign_lightning.data import ToyMNISTDataModule
from benign_lightning.data.base import Split
from benign_lightning.evaluation.checks import run_checks
from benign_lightning.evaluation.evaluate import adversarial_grid, adversarially_correct, error_rate, predict
from benign_lightning.models import build_model
from benign_lightning.run.builders import attack_spec


@pytest.mark.parametrize("loss", ["ce", "margin"])
@pytest.mark.parametrize("steps,step_size", [(1, 0.5), (10, 0.05), (40, 0.05)])
def test_l2_reaches_closed_form_optimum_on_linear_classifier(loss, steps, step_size):
    d, eps = 20, 0.3
    model, w = linear_binary(d)
    x = 0.4 + 0.2 * torch.rand(64, d, generator=torch.Generator().manual_seed(1))  # the box never binds
    y = torch.randint(0, 2, (64,), generator=torch.Generator().manual_seed(2))
    x_adv = pgd(model, x, y, eps=eps, steps=steps, step_size=step_size, norm="l2", loss=loss)
    optimum = x - eps * (w / w.norm()) * (2 * y - 1).unsqueeze(1).float()
    torch.testing.assert_close(x_adv, optimum, atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def toy_model() -> tuple[nn.Module, Split]:
    """A small MLP trained on clean toy-MNIST at sigma^2 = 0.5 (clipped): accurate, and breakable."""
    torch.manual_seed(0)
    dm = ToyMNISTDataModule(eta=0.0, data_seed=0, n_train=1000, n_test=200, clip=True, sigma2=0.5)
    dm.setup()
    model = build_model("mlp", 2, (1, 28, 28), width=64, depth=2)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = dm.train.inputs(torch.arange(len(dm.train))), dm.train.y
    for _ in range(5):
        for i in range(0, len(y), 100):
            loss = nn.functional.cross_entropy(model(x[i : i + 100]), y[i : i + 100])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval(), dm.test


def _error(model, points, eps, spec, correct) -> float:
    return error_rate(adversarially_correct(model, points, eps=eps, attack=spec, natural_correct=correct))


def test_margin_loss_breaks_at_least_as_much_as_ce_on_a_trained_model(toy_model):
    model, test = toy_model
    correct = predict(model, test, 1000) == test.y
    spec = AttackSpec(name="pgd", norm="linf", steps=20, random_start=False)
    ce = error_rate(adversarially_correct(model, test, eps=0.1, attack=spec, natural_correct=correct))
    margin = error_rate(adversarially_correct(model, test, eps=0.1, attack=spec.replace(loss="margin"),
                                              natural_correct=correct))  # fmt: skip
    assert margin >= ce - 0.02 and margin > error_rate(correct)


def test_the_envelope_is_monotone_and_never_lowers_a_points_error(toy_model):
    model, test = toy_model
    correct = predict(model, test, 1000) == test.y
    grid = [0.02, 0.05, 0.1, 0.15]
    # A weak attack (3 small absolute steps from a random start) so that raw results can disagree.
    weak = AttackSpec(name="pgd", norm="linf", steps=3, step_size=0.01, random_start=True, early_stop=False)
    envelope, raw = adversarial_grid(model, test, grid=grid, attack=weak, natural_correct=correct, seed=3)
    errors = [error_rate(envelope[e]) for e in grid]
    assert errors == sorted(errors)  # monotone
    so_far = correct.clone()
    for e in grid:
        so_far &= raw[e]
        assert torch.equal(envelope[e], so_far)  # broken at a smaller eps: broken here
        assert not (envelope[e] & ~raw[e]).any()  # never lowers a point's error
    # Where every point's raw result is monotone, the envelope is the raw curve itself.
    strong = AttackSpec(name="pgd", norm="linf", steps=40, random_start=False)
    envelope, raw = adversarial_grid(model, test, grid=[0.0, 0.3], attack=strong, natural_correct=correct)
    assert all(torch.equal(envelope[e], raw[e]) for e in (0.0, 0.3))
    fast, none = adversarial_grid(model, test, grid=grid, attack=weak, natural_correct=correct, seed=3,
                                  envelope_only=True)  # fmt: skip
    assert none is None and [error_rate(fast[e]) for e in grid] == sorted(error_rate(fast[e]) for e in grid)


def test_autoattack_is_at_least_as_strong_as_pgd(toy_model):
    pytest.importorskip("pyautoattack")
    model, test = toy_model
    points = test[slice(0, 40)]
    correct = predict(model, points, 1000) == points.y
    pgd_spec = AttackSpec(name="pgd", norm="linf", steps=20, random_start=True)
    aa_spec = AttackSpec(name="autoattack", norm="linf", batch_size=40)
    for eps in (0.05, 0.1):
        pgd_err, aa_err = (_error(model, points, eps, spec, correct) for spec in (pgd_spec, aa_spec))
        assert aa_err >= pgd_err - 0.01, (eps, aa_err, pgd_err)


def test_attack_autoattack_through_the_cli(tmp_path, main_in_process):
    pytest.importorskip("pyautoattack")
    code, _, stderr = main_in_process(
        "attack=autoattack", "data.clip=true", "eps=0.1", "attack.eval_eps=[0.05,0.1]", "data.n_train=300",
        "data.n_test=30",
        "trainer.max_epochs=2", "trainer.min_epochs=null", "logger=none", *QUIET, "hydra.run.dir=r",
    )  # fmt: skip
    assert code == 0, stderr
    results = read_json(tmp_path / "r" / "results.json")
    assert results["attack"] == {
        "name": "autoattack", "norm": "linf", "version": "standard", "package": "pyautoattack",
        "attacks": ["apgd-ce", "fab", "square"],  # toy-MNIST has 2 classes: no targeted DLR
    }  # fmt: skip
    assert set(results["adv_err_by_eps"]) == {"0.05", "0.1"} and results["adv_err"] >= results["natural_err"]
    checks = [c["check"] for c in results["eval_checks"]]
    assert checks[:2] == ["eval_deterministic", "nonzero_input_gradients"]


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_shipped_experiment_reaches_every_eps_of_its_grid(experiment, caplog):
    cfg = composed(f"+experiment={experiment}")
    spec = attack_spec(cfg.attack)
    for eps in [cfg.eps, *cfg.attack.eval_eps]:
        assert spec.reach(eps) >= eps, (experiment, eps)
    with caplog.at_level(logging.WARNING):
        validate(cfg, check_data=False)
    assert "PGD cannot use the budget" not in caplog.text
    # The paper's own preset is kept and still said to fall short where it does.
    if experiment == "mnist_noise":
        with caplog.at_level(logging.WARNING):
            validate(composed("+experiment=mnist_noise", "attack=paper_mnist"), check_data=False)
        assert "PGD cannot use the budget beyond 0.2" in caplog.text


class Rounded(nn.Module):
    """A deliberately gradient-masked model: the input is rounded to 0/1 first (zero gradients)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.round(x))


def test_a_gradient_masked_model_trips_the_sanity_checks(toy_model, caplog):
    model, test = toy_model
    masked = Rounded(model).eval()
    points = test[slice(0, 100)]
    correct = predict(masked, points, 1000) == points.y
    attack = AttackSpec(name="pgd", norm="linf", steps=20, random_start=True)

    def attack_error(eps, spec):
        return _error(masked, points, eps, spec, correct)

    x = points.inputs(torch.arange(len(points)))
    with caplog.at_level(logging.WARNING):
        checks = run_checks(masked, x, points.y, attack=attack, attack_error=attack_error, eps=0.1,
                            raw=None, level="cheap")  # fmt: skip
    failed = {c["check"] for c in checks if not c["passed"]}
    assert {"nonzero_input_gradients", "large_eps_error"} <= failed
    assert "evaluation check nonzero_input_gradients failed" in caplog.text
    # The same checks pass on the model without the rounding.
    def plain_error(eps, spec):
        return _error(model, points, eps, spec, predict(model, points, 1000) == points.y)

    plain = run_checks(model, x, points.y, attack=attack, attack_error=plain_error, eps=0.1, raw=None,
                       level="cheap")  # fmt: skip
    assert all(c["passed"] for c in plain), plain


def test_aggregation_bands_use_students_t():
    values = [0.2, 0.3, 0.7]
    mean, half = _mean_ci(values)
    assert mean == pytest.approx(0.4)
    assert half == pytest.approx(4.302653 * statistics.stdev(values) / math.sqrt(3), rel=1e-6)
    assert _mean_ci([0.5]) == (0.5, 0.0)  # one seed: no band


def test_without_pyautoattack_the_run_names_the_extra(monkeypatch, main_in_process):
    monkeypatch.setitem(sys.modules, "pyautoattack", None)  # as if not installed: import fails
    code, _, stderr = main_in_process("attack=autoattack", *QUIET, "hydra.run.dir=r")
    assert code == 2
    assert "error: attack=autoattack runs AutoAttack, but the pyautoattack package is not installed: " \
           'pip install "benign_lightning[autoattack]"' in stderr  # fmt: skip


def test_autoattack_on_unclipped_toy_mnist_is_refused_before_training(tmp_path, main_in_process):
    # Unclipped toy-MNIST (the default) has no [0, 1] box, the only one AutoAttack works in.
    code, _, stderr = main_in_process("attack=autoattack", "logger=none", *QUIET, "hydra.run.dir=r")
    assert code == 2
    assert "attack.name=autoattack with attack.clamp=None" in stderr and "data.clip=true" in stderr
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_attack_clamp_auto_is_the_data_box():
    cfg = composed()
    assert cfg.attack.clamp == "auto"
    assert attack_spec(cfg.attack, ToyMNISTDataModule(clip=False).input_range).clamp is None
    assert attack_spec(cfg.attack, ToyMNISTDataModule(clip=True).input_range).clamp == (0.0, 1.0)
    assert attack_spec(composed("+experiment=mnist_noise").attack).clamp == (0.0, 1.0)
