"""Theorem 2's two representations of the intervals data (``data=intervals``), with exact errors.

Both classify a point by its cell [i − 1/2, i + 1/2) around the nearest integer i:

- **union of intervals** (the representation that fits the noise): each cell takes the majority of
  its training labels, and every training point whose label disagrees becomes a degenerate interval
  of its own label (a set of measure zero). It fits every training label, its test error is that of
  the majority vote, but a test point within γ of a mislabelled training point of its cell is
  γ-adversarially wrong (Theorem 2 (ii), via Theorem 1);
- **parity**: majority-vote each cell's label, then solve bits(i) · s = label(i) over GF(2) by
  Gaussian elimination for the hidden subset s; the classifier is the parity of the bits of i in s.
  It is constant on each cell, so for γ < 1/4 its adversarial error equals its test error, and it
  leaves the mislabelled training points unfit (Theorem 2 (i)).

For γ < 1/4 no point of the support (within 1/4 of an integer) can leave its cell, so the exact
γ-adversarial errors below need no search.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benign_lightning.data.planar import IntervalsDataModule, subset_parity
from benign_lightning.exact.base import ExactClassifier
from benign_lightning.plumbing.errors import ConfigError


def cells(x: np.ndarray) -> np.ndarray:
    """The integer whose cell [i − 1/2, i + 1/2) holds each x."""
    return np.floor(np.asarray(x, dtype=np.float64).ravel() + 0.5).astype(np.int64)


def majority_by_cell(i: np.ndarray, y: np.ndarray) -> dict[int, int]:
    """Each cell's majority label (ties go to 0)."""
    ones = np.bincount(i, weights=y, minlength=i.max() + 1)
    counts = np.bincount(i, minlength=i.max() + 1)
    return {int(c): int(ones[c] * 2 > counts[c]) for c in np.flatnonzero(counts)}


def bit_matrix(i: np.ndarray, bits: int) -> np.ndarray:
    """Rows of the bits of each integer, lowest bit first (uint8 0/1)."""
    return ((np.asarray(i)[:, None] >> np.arange(bits)) & 1).astype(np.uint8)


def solve_gf2(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """A solution s of a · s = b over GF(2) by Gaussian elimination (free variables 0), or None."""
    m = np.concatenate([a % 2, (b % 2)[:, None]], axis=1).astype(np.uint8)
    rows, cols = m.shape[0], m.shape[1] - 1
    pivots, r = [], 0
    for c in range(cols):
        hit = np.flatnonzero(m[r:, c]) + r if r < rows else []
        if len(hit) == 0:
            continue
        m[[r, hit[0]]] = m[[hit[0], r]]
        others = np.flatnonzero(m[:, c])
        others = others[others != r]
        m[others] ^= m[r]
        pivots.append(c)
        r += 1
    if r < rows and m[r:, -1].any():
        return None  # inconsistent: some denoised label is still wrong
    s = np.zeros(cols, dtype=np.uint8)
    for row, c in enumerate(pivots):
        s[c] = m[row, -1]
    return s


def _check_intervals(datamodule, method: str) -> None:
    if not isinstance(datamodule, IntervalsDataModule):
        raise ConfigError(f"method={method} classifies data=intervals only (data is {datamodule.name!r})")


class UnionOfIntervals(ExactClassifier):
    """Majority label per cell, plus the training points whose labels disagree (degenerate intervals),
    kept sorted by position."""

    method_name = "union_of_intervals"
    max_eps = 0.25  # the exact errors below need gamma < 1/4

    def check_data(self, datamodule) -> None:
        _check_intervals(datamodule, self.method_name)

    def fit(self, x: np.ndarray, y: np.ndarray) -> UnionOfIntervals:
        x = np.asarray(x, dtype=np.float64).ravel()
        i = cells(x)
        self.majority = majority_by_cell(i, y)
        disagree = y != np.array([self.majority[int(c)] for c in i])
        order = np.argsort(x[disagree])
        self.exceptions_x, self.exceptions_y = x[disagree][order], y[disagree][order]
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).ravel()
        pred = np.array([self.majority.get(int(c), 0) for c in cells(x)])
        at = np.searchsorted(self.exceptions_x, x).clip(max=max(len(self.exceptions_x) - 1, 0))
        hit = (self.exceptions_x[at] == x) if len(self.exceptions_x) else np.zeros(len(x), dtype=bool)
        pred[hit] = self.exceptions_y[at[hit]]
        return pred

    def adversarially_wrong(self, x: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
        """Exact, for eps < 1/4: wrong at x, or a differently labelled exception within eps."""
        x = np.asarray(x, dtype=np.float64).ravel()
        wrong = self.predict(x) != y
        lo = np.searchsorted(self.exceptions_x, x - eps, side="left")
        hi = np.searchsorted(self.exceptions_x, x + eps, side="right")
        for k in np.flatnonzero(hi > lo):
            wrong[k] |= bool((self.exceptions_y[lo[k] : hi[k]] != y[k]).any())
        return wrong


class Parity(ExactClassifier):
    """The parity of the bits of a point's cell in a subset learned from the majority labels."""

    method_name = "parity"
    max_eps = 0.25

    def __init__(self, bits: int | None = None) -> None:
        self.bits = bits  # None: the data's (bind)
        self.subset = np.zeros(0, dtype=np.uint8)  # 0/1 per bit

    def check_data(self, datamodule) -> None:
        _check_intervals(datamodule, self.method_name)
        if self.bits is not None and self.bits != datamodule.bits:
            raise ConfigError(f"method.bits={self.bits} is not data.bits={datamodule.bits}: leave it null")
        self.bits = datamodule.bits

    def fit(self, x: np.ndarray, y: np.ndarray) -> Parity:
        majority = majority_by_cell(cells(x), y)
        i = np.array(sorted(majority))
        s = solve_gf2(bit_matrix(i, self.bits), np.array([majority[int(c)] for c in i]))
        if s is None:
            raise ValueError("the majority labels are inconsistent with any parity: too few samples per cell")
        self.subset = s
        return self

    @property
    def subset_bits(self) -> list[int]:
        return [int(b) for b in np.flatnonzero(self.subset)]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return subset_parity(cells(x), self.subset_bits)

    def adversarially_wrong(self, x: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
        """Exact, for eps < 1/4: constant on each cell, so wrong under attack iff wrong at x."""
        return self.predict(x) != y

    def summary(self) -> dict[str, Any]:
        return {"parity_subset": self.subset_bits}


def theorem2_table(datamodule_factory, etas, gamma: float = 0.1) -> list[dict[str, float]]:
    """Training, test and γ-adversarial error of both representations at each η (Theorem 2)."""
    if not 0 < gamma < 0.25:
        raise ValueError(f"gamma={gamma}: the exact errors here need 0 < gamma < 1/4")
    rows = []
    for eta in etas:
        dm = datamodule_factory(eta)
        dm.setup()
        x, y = dm.train.x.numpy().ravel(), dm.train.y.numpy()
        xt, yt = dm.test.x.numpy().ravel(), dm.test.y.numpy()
        row: dict[str, float] = {"eta": float(eta), "n_train": len(y)}
        for name, model in (("union", UnionOfIntervals().fit(x, y)), ("parity", Parity(dm.bits).fit(x, y))):
            row[f"{name}_train_err"] = float((model.predict(x) != y).mean())
            row[f"{name}_test_err"] = float((model.predict(xt) != yt).mean())
            row[f"{name}_adv_err"] = float(model.adversarially_wrong(xt, yt, gamma).mean())
        rows.append(row)
    return rows
