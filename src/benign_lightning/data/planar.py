"""Synthetic data of the paper's theory and appendix figures: points in the plane (or on the line).

- ``circles`` (App. C.1, Figure 7): disjoint discs of a few large and several small radii, one label
  per disc, samples uniform on their union (so a small disc is a rare sub-population); with
  ``satellite_gap`` each small disc sits that close to a large disc of the other label;
- ``blobs`` (App. C.2, Figure 8): Gaussian blobs on a grid, coloured as a checkerboard (no linear
  boundary separates them);
- ``lattice`` (App. A, Theorem 3, Figures 6b and 9a): discs around the lattice points (a, a) and
  (a, a + 1), label the parity of a + b (a line separates them); ``label_set=fine`` gives each disc
  its own class, ``fine2coarse`` trains on those and evaluates on the parity;
- ``intervals`` (Theorem 2, Figure 6a): points of [0, N], N = 2ⁿ, within 1/4 of an integer i,
  label the parity of a hidden subset of the bits of i.

The layouts (disc centres and radii, the hidden bits) are fixed by ``layout_seed``, the samples by
``data_seed``; the label noise is the shared noise module's (``flip`` by default: an η fraction of
labels flipped, as in Theorem 1). Inputs have no box (``input_range`` None): attacks do not clamp.
Every sample also carries its group (disc, blob or integer), for per-group training error.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from benign_lightning.data.synthetic import SyntheticDataModule
from benign_lightning.plumbing.errors import ConfigError

PLANAR_LABEL_SETS = ("coarse", "fine", "fine2coarse")


def subset_parity(i: np.ndarray, subset: list[int]) -> np.ndarray:
    """The parity of the bits of each integer ``i`` at the positions ``subset`` (Theorem 2's labels)."""
    i = np.asarray(i, dtype=np.int64)
    return (sum((i >> b) & 1 for b in subset) % 2).astype(np.int64)


class PlanarDataModule(SyntheticDataModule):
    """Synthetic samples with a group per sample (disc, blob or integer), for per-group reports."""

    in_shape = (2,)

    @abstractmethod
    def group_sizes(self) -> np.ndarray:
        """The size (radius, or width) of each group, for per-group reports."""

    @property
    def train_groups(self) -> np.ndarray:
        """The group of each row of the training split (held-out rows excluded)."""
        assert self.train_groups_all is not None and self.heldout_mask is not None, "call setup() first"
        return self.train_groups_all[self.train_index][~self.heldout_mask]


def uniform_in_discs(centres: np.ndarray, radii: np.ndarray, which: np.ndarray, rng) -> np.ndarray:
    """A uniform point in disc ``which[k]`` for each k (radius √U for uniform area)."""
    angle = rng.uniform(0, 2 * np.pi, len(which))
    radius = radii[which] * np.sqrt(rng.uniform(0, 1, len(which)))
    offset = np.stack([np.cos(angle), np.sin(angle)], 1) * radius[:, None]
    return (centres[which] + offset).astype(np.float32)


def _place(centres: list, radii_placed: list, r: float, candidates, gap: float) -> bool:
    """Append the first candidate centre whose disc of radius ``r`` is ``gap`` clear of the others."""
    for c in candidates:
        if all(np.linalg.norm(c - o) >= r + ro + gap for o, ro in zip(centres, radii_placed, strict=True)):
            centres.append(c)
            radii_placed.append(r)
            return True
    return False


def circle_layout(
    n_large: int, n_small: int, r_large: float, r_small: float, seed: int, box: float = 5.0, gap: float = 0.3,
    satellite_gap: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Disjoint discs in [-box, box]² (at least ``gap`` apart), large ones placed first, labels
    alternating so both classes have large discs.

    ``satellite_gap`` None: the small discs anywhere, labels alternating. A number: small disc i sits
    ``satellite_gap`` from the edge of large disc i mod n_large and takes the other label, so a
    robust classifier cannot keep both (App. C.1's "rare sub-populations" next to common ones)."""
    rng = np.random.default_rng(seed)
    centres: list[np.ndarray] = []
    placed: list[float] = []

    def anywhere(r: float):
        return (rng.uniform(-box + r, box - r, 2) for _ in range(10_000))

    def beside(host: int, r: float):
        distance = r_large + satellite_gap + r
        for angle in rng.uniform(0, 2 * np.pi, 2_000):
            c = centres[host] + distance * np.array([np.cos(angle), np.sin(angle)])
            if np.all(np.abs(c) <= box - r):
                yield c

    small_gap = gap if satellite_gap is None else min(gap, satellite_gap)
    for k in range(n_large + n_small):
        large = k < n_large
        r = r_large if large else r_small
        free = large or satellite_gap is None or n_large == 0
        where = anywhere(r) if free else beside((k - n_large) % n_large, r)
        if not _place(centres, placed, r, where, gap if large else small_gap):
            raise ConfigError(
                f"data: cannot place {n_large + n_small} disjoint discs in the box; use fewer or smaller ones"
            )
    large_labels = np.arange(n_large) % 2
    if satellite_gap is None or n_large == 0:
        small_labels = np.arange(n_small) % 2
    else:
        small_labels = 1 - large_labels[np.arange(n_small) % n_large]
    return np.array(centres), np.array(placed), np.concatenate([large_labels, small_labels])


class CirclesDataModule(PlanarDataModule):
    """App. C.1 (Figure 7): ``n_large`` discs of radius ``r_large`` and ``n_small`` of ``r_small``."""

    name = "circles"

    def __init__(
        self, *, n_large: int = 3, n_small: int = 8, r_large: float = 1.2, r_small: float = 0.3,
        satellite_gap: float | None = None, **kwargs,
    ) -> None:  # fmt: skip
        super().__init__(**kwargs)
        if not 0 < r_small <= r_large or n_large < 0 or n_small < 0 or n_large + n_small < 2:
            raise ConfigError(
                f"data: circles need 0 < r_small <= r_large and at least 2 discs, got n_large={n_large}, "
                f"n_small={n_small}, r_large={r_large}, r_small={r_small}"
            )
        if satellite_gap is not None and satellite_gap <= 0:
            raise ConfigError(f"data.satellite_gap must be > 0 or null, got {satellite_gap}")
        self.centres, self.radii, self.disc_labels = circle_layout(
            n_large, n_small, r_large, r_small, self.layout_seed, satellite_gap=satellite_gap
        )

    def sample(self, n, rng):
        area = self.radii**2
        which = rng.choice(len(self.radii), size=n, p=area / area.sum())  # uniform on the union
        return uniform_in_discs(self.centres, self.radii, which, rng), self.disc_labels[which], which

    def group_sizes(self) -> np.ndarray:
        return self.radii


class BlobsDataModule(PlanarDataModule):
    """App. C.2 (Figure 8): a ``grid`` × ``grid`` array of Gaussian blobs, ``spacing`` apart, of
    standard deviation ``std``, labelled as a checkerboard."""

    name = "blobs"

    def __init__(self, *, grid: int = 3, spacing: float = 2.0, std: float = 0.25, **kwargs) -> None:
        super().__init__(**kwargs)
        if grid < 2 or spacing <= 0 or std <= 0:
            raise ConfigError(
                f"data: blobs need grid >= 2, spacing > 0, std > 0; got {grid}, {spacing}, {std}"
            )
        ij = np.array([(i, j) for i in range(grid) for j in range(grid)])
        self.centres = (ij - (grid - 1) / 2) * spacing
        self.blob_labels = ij.sum(1) % 2
        self.spread = float(std)  # not self.std: that is the input normalisation's

    def sample(self, n, rng):
        which = rng.integers(0, len(self.centres), n)
        x = self.centres[which] + rng.normal(0, self.spread, (n, 2))
        return x.astype(np.float32), self.blob_labels[which], which

    def group_sizes(self) -> np.ndarray:
        return np.full(len(self.centres), self.spread)


class LatticeDataModule(PlanarDataModule):
    """App. A (Theorem 3), Figures 6b and 9a: discs of radius ``radius`` around (a, a) and (a, a + 1)
    for a = 0 … ``k`` − 1; label the parity of a + b (0 on the diagonal, 1 above it).

    ``label_set``: ``coarse`` (the parity), ``fine`` (each disc its own class, 2k classes) or
    ``fine2coarse`` (train on the discs, evaluate on the parity: the multiclass arm of Figure 9a)."""

    name = "lattice"

    def __init__(self, *, k: int = 5, radius: float = 0.35, label_set: str = "coarse", **kwargs) -> None:
        if label_set not in PLANAR_LABEL_SETS:
            raise ConfigError(
                f"data.label_set={label_set!r} is unknown; choose one of {', '.join(PLANAR_LABEL_SETS)}"
            )
        if k < 1 or not 0 < radius < 0.5:
            # Discs around (a, a) and (a, a + 1) are 1 apart: disjoint for radius < 1/2.
            raise ConfigError(f"data: lattice needs k >= 1 and 0 < radius < 0.5, got k={k}, radius={radius}")
        a = np.arange(k)
        self.centres = np.concatenate([np.stack([a, a], 1), np.stack([a, a + 1], 1)]).astype(float)
        self.parity = (self.centres.sum(1) % 2).astype(np.int64)
        self.radius, self.label_set = float(radius), label_set
        self.num_classes = 2 if label_set == "coarse" else 2 * k
        self.fine2coarse = label_set == "fine2coarse"
        self.coarse_of_fine = tuple(int(p) for p in self.parity)
        super().__init__(**kwargs)

    def sample(self, n, rng):
        which = rng.integers(0, len(self.centres), n)
        x = uniform_in_discs(self.centres, np.full(len(self.centres), self.radius), which, rng)
        labels = self.parity[which] if self.label_set == "coarse" else which
        return x, labels.astype(np.int64), which

    def group_sizes(self) -> np.ndarray:
        return np.full(len(self.centres), self.radius)


class IntervalsDataModule(PlanarDataModule):
    """Theorem 2 (Figure 6a): x uniform in (i − 1/4, i + 1/4) for an integer i uniform in
    [1, N − 1], N = 2^``bits``; label the parity of the bits of i in a hidden subset (``subset``, or
    ``subset_size`` bits drawn from ``layout_seed``)."""

    name = "intervals"
    in_shape = (1,)

    def __init__(
        self, *, bits: int = 6, subset: list[int] | None = None, subset_size: int = 3, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if not 1 <= bits <= 30:
            raise ConfigError(f"data.bits must be in [1, 30], got {bits}")
        if subset is None:
            if not 1 <= subset_size <= bits:
                raise ConfigError(f"data.subset_size must be in [1, data.bits={bits}], got {subset_size}")
            subset = sorted(np.random.default_rng(self.layout_seed).choice(bits, subset_size, replace=False))
        if not subset or any(not 0 <= int(b) < bits for b in subset) or len(set(subset)) != len(subset):
            raise ConfigError(f"data.subset={subset}: distinct bit positions in [0, {bits}) needed")
        self.bits, self.subset = int(bits), [int(b) for b in subset]
        self.mask = sum(1 << b for b in self.subset)
        # The model sees x standardised (x in [0, 2^bits] would make SGD diverge); attacks and eps
        # stay on the line itself.
        n = 2**self.bits
        self.mean, self.std = (n / 2,), (n / (2 * 3**0.5),)

    def parity_of(self, i: np.ndarray) -> np.ndarray:
        """The label of integer ``i``: the parity of its bits in the hidden subset."""
        return subset_parity(i, self.subset)

    def sample(self, n, rng):
        i = rng.integers(1, 2**self.bits, n)
        x = (i + rng.uniform(-0.25, 0.25, n)).astype(np.float32)[:, None]
        return x, self.parity_of(i), i

    def group_sizes(self) -> np.ndarray:
        return np.full(2**self.bits, 0.5)
