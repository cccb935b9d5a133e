"""Theorem 3 (App. A, B.2) exactly: on the lattice distribution, a linear separator against the
staircase classifier g_b of Lemma 2, in the ℓ2 radius the theorem is stated for.

The distribution (``data=lattice``): a label y and a disc index a uniform, x uniform in the disc of
radius r around (a, a) (y = 0) or (a, a + 1) (y = 1), a = 0 … k − 1 (B.2 places the discs at
(i + y, i); the picture is the same mirrored). Every disc has mass 1/(2k).

- A linear classifier h(x) = 1[w·x + w0 > 0] errs on a point within γ (ℓ2) of its hyperplane on the
  wrong side, or beyond it: per disc the share of points whose signed distance to the hyperplane,
  towards the disc's own side, is below γ. For a disc of radius r whose centre is at signed
  distance d, that is one minus the circular segment beyond γ − d: exact, no sampling.
- g_b labels x by the parity of [x1] + [x2] ([·] rounds to the nearest integer): its boundaries are
  the lines x1 = n + 1/2 and x2 = n + 1/2, each disc's centre 1/2 from the nearest ones. A point is
  adversarially wrong exactly when one of those lines is within γ: crossing one line flips the
  parity, and the ball meets a point across one line only. Its exact error is one minus the share of
  the disc inside the square of half-side 1/2 − γ around the centre.

Lemma 1: γ0 = 0.02 and ρ = 1/(2√2) − 0.008; for discs of radius ≥ ρ every linear classifier with
zero natural error has R_Adv,γ > 0.0005 for every γ > γ0. Lemma 2: for radius ρ and
γ ∈ [γ0, γ0 + 1/8], R_Adv,γ(g_1) = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GAMMA0 = 0.02  # Lemma 1
RHO = 1 / (2 * math.sqrt(2)) - 0.008  # Lemma 1: the least disc radius
LEMMA1_BOUND = 0.0005


@dataclass(frozen=True)
class Lattice:
    """The lattice distribution: ``k`` discs of each label, radius ``radius``."""

    k: int = 5
    radius: float = 0.35

    def __post_init__(self) -> None:
        if self.k < 1 or not 0 < self.radius < 0.5:
            raise ValueError(f"a lattice needs k >= 1 and 0 < radius < 0.5, got k={self.k}, r={self.radius}")

    @property
    def centres(self) -> np.ndarray:
        a = np.arange(self.k, dtype=float)
        return np.concatenate([np.stack([a, a], 1), np.stack([a, a + 1], 1)])

    @property
    def labels(self) -> np.ndarray:
        return np.repeat([0, 1], self.k)


def _below(t: np.ndarray, r: float) -> np.ndarray:
    """The share of a disc of radius ``r`` whose coordinate along a unit direction is below ``t``
    (measured from the centre): one minus the circular segment beyond ``t``."""
    t = np.clip(np.asarray(t, dtype=float), -r, r)
    cap = r * r * np.arccos(t / r) - t * np.sqrt(r * r - t * t)  # the segment beyond t
    return np.clip(1.0 - cap / (math.pi * r * r), 0.0, 1.0)  # (rounding: never below 0)


def linear_adversarial_error(lattice: Lattice, w: np.ndarray, w0: float, gamma: float) -> float:
    """The exact ℓ2 γ-adversarial error of 1[w·x + w0 > 0] (natural error at γ = 0)."""
    w = np.asarray(w, dtype=float)
    norm = float(np.linalg.norm(w))
    if norm == 0:
        raise ValueError("w must not be 0")
    # Signed distance of each centre to the hyperplane, positive on its own label's side.
    side = np.where(lattice.labels == 1, 1.0, -1.0)
    distance = side * (lattice.centres @ w + w0) / norm
    # A point at offset u (along the normal towards its side) errs when distance + u < gamma.
    return float(np.mean(_below(gamma - distance, lattice.radius)))


def _best_on(lattice: Lattice, gamma: float, thetas: np.ndarray, offsets: int) -> dict | None:
    """The least γ-adversarial error of a separating linear classifier with a normal at one of
    ``thetas`` and an offset on a grid of ``offsets`` across its separating interval."""
    w = np.stack([np.cos(thetas), np.sin(thetas)], 1)  # [directions, 2], unit normals
    projection = w @ lattice.centres.T  # [directions, discs]
    ones = lattice.labels == 1
    low = -projection[:, ones].min(1) + lattice.radius  # label 1: w·x + w0 > 0 on its whole disc
    high = -projection[:, ~ones].max(1) - lattice.radius  # label 0: w·x + w0 < 0
    keep = low < high  # the directions in which some offset separates the discs
    if not keep.any():
        return None
    w, projection, low, high = w[keep], projection[keep], low[keep], high[keep]
    w0 = low[:, None] + (high - low)[:, None] * np.linspace(0, 1, offsets)[None]  # [directions, offsets]
    side = np.where(ones, 1.0, -1.0)
    distance = side[None, :, None] * (projection[:, :, None] + w0[:, None, :])  # [dir, discs, offsets]
    errors = _below(gamma - distance, lattice.radius).mean(1)
    d, o = np.unravel_index(int(np.argmin(errors)), errors.shape)
    return {"w": w[d].tolist(), "w0": float(w0[d, o]), "adv_err": float(errors[d, o]),
            "theta": float(thetas[keep][d])}  # fmt: skip


def best_linear_separator(lattice: Lattice, gamma: float, directions: int = 3600, offsets: int = 101
                          ) -> dict:  # fmt: skip
    """Among linear classifiers with zero natural error, the one of least γ-adversarial error: a grid
    of ``directions`` normals over the circle, then a finer grid around the best of them (the
    optimum need not be the diagonal: tilting trades the end discs' margins against the others')."""
    coarse = _best_on(lattice, gamma, np.linspace(0, 2 * math.pi, directions, endpoint=False), offsets)
    if coarse is None:
        raise ValueError(f"no linear classifier separates the discs of {lattice}")
    step = 2 * math.pi / directions
    fine = _best_on(lattice, gamma, coarse["theta"] + np.linspace(-step, step, 401), 4 * offsets)
    return min((coarse, fine), key=lambda b: b["adv_err"] if b is not None else math.inf)


def _square_in_disc(s: float, r: float) -> float:
    """The area of the disc of radius ``r`` inside the square |u1|, |u2| ≤ ``s`` (same centre)."""
    if s <= 0:
        return 0.0
    if s >= r:
        return math.pi * r * r
    if r * r >= 2 * s * s:
        return 4 * s * s  # the square inside the disc
    q = math.sqrt(r * r - s * s)  # |u| < q: the disc's chord is longer than the square's side

    def primitive(u: float) -> float:  # ∫ sqrt(r² − u²) du
        return (u * math.sqrt(r * r - u * u) + r * r * math.asin(u / r)) / 2

    return 4 * s * q + 4 * (primitive(s) - primitive(q))


def staircase_adversarial_error(lattice: Lattice, gamma: float) -> float:
    """The exact ℓ2 γ-adversarial error of g_1 (Lemma 2) on the lattice: every disc alike."""
    r = lattice.radius
    return min(1.0, max(0.0, 1.0 - _square_in_disc(0.5 - gamma, r) / (math.pi * r * r)))


def lemma1_applies(lattice: Lattice, gamma: float) -> bool:
    """Lemma 1's conditions: discs of radius ≥ ρ, γ > γ₀, and k ≥ 2. The paper says k ∈ Z⁺, but at
    k = 1 (two discs) the line between them keeps a clear margin: its exact error is 0 up to γ ≈ 0.15
    (``linear_adversarial_error``), so the lemma needs at least two discs of each label."""
    return lattice.radius >= RHO and gamma > GAMMA0 and lattice.k >= 2


def lemma2_applies(lattice: Lattice, gamma: float) -> bool:
    """Lemma 2's conditions: γ ≤ γ₀ + 1/8 and discs narrow enough that every γ-ball stays inside its
    cell (radius + γ₀ + 1/8 < 1/2, as for Lemma 1's ρ); for wider discs it says nothing."""
    return gamma <= GAMMA0 + 1 / 8 and lattice.radius + GAMMA0 + 1 / 8 < 0.5


def theorem3_table(lattice: Lattice, gammas: list[float]) -> list[dict]:
    """Per γ: the best linear separator's exact error, Lemma 1's bound where it applies, and g_1's."""
    rows = []
    for gamma in gammas:
        linear = best_linear_separator(lattice, gamma)
        lemma1 = lemma1_applies(lattice, gamma)
        rows.append({
            "gamma": gamma, "linear_adv_err": linear["adv_err"], "linear_w": linear["w"],
            "linear_w0": linear["w0"], "lemma1_applies": lemma1,
            "lemma1_holds": (linear["adv_err"] > LEMMA1_BOUND) if lemma1 else None,
            "staircase_adv_err": staircase_adversarial_error(lattice, gamma),
        })  # fmt: skip
    return rows
