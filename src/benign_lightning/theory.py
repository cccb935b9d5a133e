"""Theorem 1 (§2.1) as a calculator: ``python -m benign_lightning.theory thm1 ...`` and ``... toy``.

Theorem 1, in the paper's notation: if a set ζ of balls B_ρ(s), each holding one class and each of
probability mass ≥ c₂/|ζ| (c₂ is the balls' total, not one ball's mass), covers mass ≥ c₁
(c₁ ≥ c₂), then with probability ≥ 1 − δ every classifier that fits m samples whose labels were
flipped with probability η has 2ρ-adversarial error ≥ c₁, once

    m ≥ |ζ| / (η c₂) · log(|ζ| / δ).

(The per-ball mass c₂/|ζ| is what makes this bound hold: a sample lands in a given ball with
probability ≥ c₂/|ζ|, so after m samples each ball holds a flipped label with probability
≥ 1 − exp(−η c₂ m / |ζ|), and a union bound over the |ζ| balls gives the log(|ζ|/δ). The seed text's
extraction loses the fraction bar; ``../shared/PAPER.md`` states the reading.)

``toy`` relates toy-MNIST's σ² to the theorem: balls of radius ρ = ε/2 around points of a class's
Gaussian N(digit, σ² I) in d = 784 dimensions. The mass p of such a ball is at most that of the ball
around the mean (the Gaussian's mode), so covering c₁ takes |ζ| ≥ c₁/p balls, and then c₂ = |ζ|·p
= c₁: the m printed is the least the theorem could ask for with such balls.
"""

from __future__ import annotations

import argparse
import math

from scipy import special, stats

TOY_DIM = 28 * 28


def theorem1_samples(*, balls: float, eta: float, c2: float, delta: float) -> float:
    """Theorem 1's sample size m = |ζ| / (η c₂) · log(|ζ| / δ) (may be astronomically large)."""
    for name, value, ok in (("balls", balls, balls >= 1), ("eta", eta, 0 < eta <= 0.5),
                            ("c2", c2, 0 < c2 <= 1), ("delta", delta, 0 < delta < 1)):  # fmt: skip
        if not ok:
            raise ValueError(
                f"--{name}={value}: needs balls >= 1, 0 < eta <= 0.5, 0 < c2 <= 1, 0 < delta < 1"
            )
    return math.exp(log_theorem1_samples(balls=balls, eta=eta, c2=c2, delta=delta))


def log_theorem1_samples(*, balls: float, eta: float, c2: float, delta: float) -> float:
    """Natural log of Theorem 1's m, for values beyond floating point."""
    return math.log(balls) - math.log(eta) - math.log(c2) + math.log(math.log(balls / delta))


def log_gaussian_ball_mass(*, sigma2: float, rho: float, norm: str, dim: int = TOY_DIM) -> float:
    """log P[‖ξ‖ ≤ ρ] for ξ ~ N(0, σ² I_dim): the mass of the radius-ρ ball around the mean."""
    sigma = math.sqrt(sigma2)
    if norm == "linf":  # independent coordinates: P(|ξ_i| ≤ ρ)^dim
        return dim * math.log(special.erf(rho / (sigma * math.sqrt(2))))
    if norm == "l2":  # ‖ξ‖² / σ² is chi-square with dim degrees of freedom
        return float(stats.chi2.logcdf((rho / sigma) ** 2, dim))
    raise ValueError(f"norm={norm!r}: choose linf or l2")


def _power_of_ten(log_value: float) -> str:
    exponent = log_value / math.log(10)
    return f"{10**exponent:,.0f}" if exponent < 15 else f"10^{exponent:.1f}"


def toy_theorem1(*, sigma2: float, eps: float, eta: float, c1: float, delta: float, norm: str) -> dict:
    """log10 of what Theorem 1 asks of toy-MNIST at (σ², ε): one ball's mass p, the balls
    |ζ| = c₁/p, and m = |ζ| / (η c₂) · log(|ζ|/δ) with c₂ = |ζ|·p = c₁."""
    log_ball = log_gaussian_ball_mass(sigma2=sigma2, rho=eps / 2, norm=norm)
    log_balls = max(0.0, math.log(c1) - log_ball)  # |ζ| ≥ c₁ / p balls of mass ≤ p cover c₁
    log_c2 = min(math.log(c1), log_balls + log_ball)  # c₂ = |ζ| · p (each ball ≥ c₂ / |ζ|), ≤ c₁
    log_m = log_balls - math.log(eta) - log_c2 + math.log(log_balls - math.log(delta))
    ten = math.log(10)
    return {"log10_ball_mass": log_ball / ten, "log10_balls": log_balls / ten, "log10_c2": log_c2 / ten,
            "log10_m": log_m / ten}  # fmt: skip


def toy_report(*, sigma2: float, eps: float, eta: float, c1: float, delta: float, norm: str,
               n_train: int = 4000) -> str:  # fmt: skip
    """What Theorem 1 asks of toy-MNIST at (σ², ε): ball mass, balls needed, samples needed."""
    t = toy_theorem1(sigma2=sigma2, eps=eps, eta=eta, c1=c1, delta=delta, norm=norm)
    ten = math.log(10)
    return "\n".join([
        f"toy-MNIST, sigma2={sigma2:g}, {norm} eps={eps:.4f} (rho = eps/2 = {eps / 2:.4f}), "
        f"d={TOY_DIM}, eta={eta:g}",
        f"  p <= mass of the rho-ball at a class mean = 10^{t['log10_ball_mass']:.1f}",
        f"  |zeta| >= c1 / p = {_power_of_ten(t['log10_balls'] * ten)} balls to cover c1={c1:g}; "
        f"c2 = |zeta| p = {c1:g}",
        f"  m >= |zeta| / (eta c2) log(|zeta| / delta) = {_power_of_ten(t['log10_m'] * ten)} samples "
        f"(delta={delta:g})",
        f"  toy-MNIST trains on {n_train}: "
        + ("enough" if t["log10_m"] <= math.log10(n_train) else "the theorem does not apply at this size"),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benign_lightning.theory", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    thm1 = sub.add_parser("thm1", help="Theorem 1's sample size from c1, c2, |zeta|, eta and delta")
    thm1.add_argument("--c1", type=float, required=True, help="mass the balls cover (the error bound)")
    thm1.add_argument("--c2", type=float, required=True,
                      help="c2 of the paper: every ball has mass >= c2 / |zeta| (c2 <= c1)")  # fmt: skip
    thm1.add_argument("--balls", type=float, required=True, help="|zeta|, the number of balls")
    thm1.add_argument("--eta", type=float, required=True, help="label flip probability")
    thm1.add_argument("--delta", type=float, default=0.05, help="failure probability (default 0.05)")
    toy = sub.add_parser("toy", help="what Theorem 1 asks of toy-MNIST at sigma2 and eps")
    toy.add_argument("--sigma2", type=float, default=0.5)
    toy.add_argument("--eps", type=float, default=64 / 255)
    toy.add_argument("--norm", choices=("linf", "l2"), default="linf")
    toy.add_argument("--eta", type=float, default=0.1)
    toy.add_argument("--c1", type=float, default=0.5)
    toy.add_argument("--delta", type=float, default=0.05)
    thm2 = sub.add_parser("thm2", help="Theorem 2 on data=intervals: union of intervals vs parity, over eta")
    thm2.add_argument("--bits", type=int, default=4, help="N = 2^bits (default 4: 15 intervals)")
    thm2.add_argument("--subset", type=int, nargs="+", default=[0, 2], help="the hidden bits (default 0 2)")
    thm2.add_argument("--etas", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
    thm2.add_argument("--n-train", type=int, default=20_000)
    thm2.add_argument("--n-test", type=int, default=10_000)
    thm2.add_argument("--gamma", type=float, default=0.1, help="the adversary's budget (< 1/4)")
    thm2.add_argument("--seed", type=int, default=0)
    thm3 = sub.add_parser("thm3", help="Theorem 3 on data=lattice: linear separators vs the staircase (l2)")
    thm3.add_argument("--k", type=int, default=5, help="discs of each label (default 5, data=lattice's)")
    thm3.add_argument("--radius", type=float, default=0.35, help="disc radius (default 0.35, data=lattice's)")
    thm3.add_argument("--gammas", type=float, nargs="+", default=[0.0, 0.01, 0.02, 0.05, 0.1, 0.145, 0.2],
                      help="the l2 budgets")  # fmt: skip
    thm3.add_argument("--w", type=float, nargs=2, help="a linear classifier 1[w.x + w0 > 0] of your own")
    thm3.add_argument("--w0", type=float, default=0.0)
    args = p.parse_args(argv)
    if args.command == "thm2":
        return _thm2(args)
    if args.command == "thm3":
        return _thm3(args, p)
    if args.command == "thm1":
        if args.c2 > args.c1:
            p.error(f"--c2={args.c2} > --c1={args.c1}: the theorem needs c1 >= c2")
        try:
            m = theorem1_samples(balls=args.balls, eta=args.eta, c2=args.c2, delta=args.delta)
        except ValueError as e:
            p.error(str(e))
        print(f"m >= |zeta| / (eta c2) log(|zeta| / delta) = {args.balls:g} / ({args.eta:g} * {args.c2:g}) "
              f"* log({args.balls:g} / {args.delta:g}) = {math.ceil(m):,}")  # fmt: skip
        print(f"then with probability >= {1 - args.delta:g}, every classifier that fits the m noisy samples "
              f"has 2rho-adversarial error >= c1 = {args.c1:g}")  # fmt: skip
        return 0
    print(
        toy_report(
            sigma2=args.sigma2, eps=args.eps, eta=args.eta, c1=args.c1, delta=args.delta, norm=args.norm
        )
    )
    return 0


def _thm2(args: argparse.Namespace) -> int:
    from benign_lightning.data.planar import IntervalsDataModule
    from benign_lightning.exact.intervals import theorem2_table

    def data(eta: float) -> IntervalsDataModule:
        return IntervalsDataModule(bits=args.bits, subset=args.subset, eta=eta, n_train=args.n_train,
                                   n_test=args.n_test, data_seed=args.seed)  # fmt: skip

    rows = theorem2_table(data, args.etas, gamma=args.gamma)
    print(f"Theorem 2: {2**args.bits - 1} intervals, hidden bits {args.subset}, {args.n_train} training "
          f"points, gamma={args.gamma:g}; errors train / test / adversarial")  # fmt: skip
    print("| eta | union of intervals | parity |\n|---|---|---|")
    for r in rows:
        union = f"{r['union_train_err']:.3f} / {r['union_test_err']:.3f} / {r['union_adv_err']:.3f}"
        parity = f"{r['parity_train_err']:.3f} / {r['parity_test_err']:.3f} / {r['parity_adv_err']:.3f}"
        print(f"| {r['eta']:g} | {union} | {parity} |")
    return 0


def _thm3(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from benign_lightning.exact.lattice import (
        GAMMA0,
        LEMMA1_BOUND,
        RHO,
        Lattice,
        linear_adversarial_error,
        theorem3_table,
    )

    try:
        lattice = Lattice(args.k, args.radius)
        rows = theorem3_table(lattice, args.gammas)
    except ValueError as e:
        parser.error(str(e))
    print(f"Theorem 3: {2 * args.k} discs of radius {args.radius:g} on the lattice, exact l2 adversarial "
          f"errors (Lemma 1: radius >= rho = {RHO:.4f}, gamma > gamma0 = {GAMMA0}: every separator > "
          f"{LEMMA1_BOUND})")  # fmt: skip
    mine = "| yours |" if args.w else ""
    print(f"| gamma | best linear separator | Lemma 1 | staircase g_1 {mine}")
    print(f"|---|---|---|---|{'---|' if mine else ''}")
    for r in rows:
        lemma = {None: "n/a", True: "holds", False: "FAILS"}[r["lemma1_holds"]]
        yours = f" {linear_adversarial_error(lattice, args.w, args.w0, r['gamma']):.5f} |" if args.w else ""
        print(f"| {r['gamma']:g} | {r['linear_adv_err']:.5f} | {lemma} | {r['staircase_adv_err']:.5f} |"
              f"{yours}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
