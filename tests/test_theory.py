"""Theorem 1 as a calculator: the formula, the Gaussian ball masses behind the toy-MNIST check, and
the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benign_lightning.theory import (
    log_gaussian_ball_mass,
    main,
    theorem1_samples,
    toy_report,
    toy_theorem1,
)


def test_theorem1_sample_size_is_the_formula():
    # |zeta| / (eta c2) * log(|zeta| / delta) = 50 / (0.1 * 0.01) * log(1000)
    assert theorem1_samples(balls=50, eta=0.1, c2=0.01, delta=0.05) == pytest.approx(50_000 * math.log(1000))
    # More noise, fewer samples needed; heavier balls, fewer samples needed.
    assert theorem1_samples(balls=50, eta=0.2, c2=0.01, delta=0.05) < theorem1_samples(
        balls=50, eta=0.1, c2=0.01, delta=0.05
    )
    with pytest.raises(ValueError, match="eta"):
        theorem1_samples(balls=50, eta=0.0, c2=0.01, delta=0.05)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_ball_mass_matches_monte_carlo_in_low_dimension(norm):
    rng = np.random.default_rng(0)
    xi = rng.normal(0, math.sqrt(0.3), (400_000, 3))
    rho = 0.5
    inside = (np.abs(xi).max(1) if norm == "linf" else np.linalg.norm(xi, axis=1)) <= rho
    exact = math.exp(log_gaussian_ball_mass(sigma2=0.3, rho=rho, norm=norm, dim=3))
    assert exact == pytest.approx(inside.mean(), rel=0.02)


def test_toy_mnist_bound_follows_the_papers_notation_by_hand():
    """σ² = 0.5, ε = 64/255, ℓ∞: one ball (radius ε/2) holds p = erf(ρ/(σ√2))^784; |ζ| = c₁/p balls,
    each of mass p = c₂/|ζ|, so c₂ = c₁ and m = |ζ|/(η c₁) · ln(|ζ|/δ). Once this took c₂ = p, one
    ball's mass, and printed a bound |ζ| times too large (10^1338.6, not about 10^671)."""
    rho, sigma = 32 / 255, math.sqrt(0.5)
    log10_p = 784 * math.log10(math.erf(rho / (sigma * math.sqrt(2))))
    log10_balls = math.log10(0.5) - log10_p
    ln_balls = log10_balls * math.log(10)
    log10_m = log10_balls - math.log10(0.1 * 0.5) + math.log10(ln_balls - math.log(0.05))
    t = toy_theorem1(sigma2=0.5, eps=64 / 255, eta=0.1, c1=0.5, delta=0.05, norm="linf")
    assert t["log10_ball_mass"] == pytest.approx(log10_p) and t["log10_c2"] == pytest.approx(math.log10(0.5))
    assert t["log10_m"] == pytest.approx(log10_m) and 670 < t["log10_m"] < 672
    assert f"10^{log10_m:.1f} samples" in toy_report(sigma2=0.5, eps=64 / 255, eta=0.1, c1=0.5, delta=0.05,
                                                      norm="linf")  # fmt: skip


def test_toy_mnist_at_paper_scale_is_far_outside_the_theorem():
    report = toy_report(sigma2=0.5, eps=64 / 255, eta=0.1, c1=0.5, delta=0.05, norm="linf")
    assert "the theorem does not apply at this size" in report and "10^" in report
    # A few heavy balls (tiny noise, large eps): 4000 samples are enough.
    assert "enough" in toy_report(sigma2=1e-4, eps=0.5, eta=0.1, c1=0.5, delta=0.05, norm="linf")


def test_cli(capsys):
    assert main(["thm1", "--c1", "0.5", "--c2", "0.01", "--balls", "50", "--eta", "0.1"]) == 0
    assert f"= {math.ceil(50_000 * math.log(1000)):,}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["thm1", "--c1", "0.01", "--c2", "0.5", "--balls", "50", "--eta", "0.1"])
    assert "c1 >= c2" in capsys.readouterr().err
