"""The 1-nearest-neighbour classifier of Figure 8d (App. C.2, "a large margin classifier, simulated
using a 1-nearest neighbour"), with its exact adversarial error in the plane.

A point is classified by its nearest training point (Euclidean), so the region of label y is the
union of the Voronoi cells of the training points labelled y. For a correctly classified x the
smallest perturbation that changes its label reaches the boundary of the other labels' region, which
is made of the Voronoi edges between a y-labelled and a differently labelled point: the exact
adversarial distance is the least distance from x to those edges (segments or rays). scipy's
Voronoi diagram gives the edges; the ℓ2 or ℓ∞ distance to a segment is a 1-D convex problem solved
in closed form. scikit-learn's KNeighborsClassifier predicts the same labels but has no notion of
adversarial distance, hence the code here.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import KDTree, QhullError, Voronoi

from benign_lightning.exact.base import ExactClassifier
from benign_lightning.plumbing.errors import ConfigError


def _edges(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The Voronoi edges of ``points``: origins, directions, the parameter's upper end (1 for a
    segment, inf for a ray) and the pair of points each edge separates."""
    try:
        vor = Voronoi(points)
    except QhullError:
        raise ValueError(
            "method=nearest_neighbor needs at least 3 training points not all on one line"
        ) from None
    centre = points.mean(0)
    origins, directions, upper = [], [], []
    for (i, j), (a, b) in zip(vor.ridge_points, vor.ridge_vertices, strict=True):
        if a >= 0 and b >= 0:
            origins.append(vor.vertices[a])
            directions.append(vor.vertices[b] - vor.vertices[a])
            upper.append(1.0)
            continue
        # An unbounded edge: a ray from its finite vertex along the bisector, pointing away from the
        # points' centre (the edges of the convex hull are the unbounded ones).
        tangent = points[j] - points[i]
        normal = np.array([-tangent[1], tangent[0]]) / np.linalg.norm(tangent)
        midpoint = (points[i] + points[j]) / 2
        finite = vor.vertices[max(a, b)]
        origins.append(finite)
        outward = np.sign(np.dot(midpoint - centre, normal)) or 1.0  # 0 only for a symmetric pair
        directions.append(outward * normal)
        upper.append(np.inf)
    return np.array(origins), np.array(directions), np.array(upper), vor.ridge_points


def _distances_to_edges(x: np.ndarray, origins: np.ndarray, directions: np.ndarray, upper: np.ndarray,
                        norm: str) -> np.ndarray:  # fmt: skip
    """``[len(x), len(origins)]``: the ``norm`` distance from each point to each edge
    ``origin + t · direction``, 0 ≤ t ≤ upper."""
    r = origins[None] - x[:, None]  # [n, m, 2]: the edge's origin seen from the point
    d = np.broadcast_to(directions[None], r.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        if norm == "l2":  # the foot of the perpendicular, clipped to the edge
            t = -(r * d).sum(-1, keepdims=True) / (d * d).sum(-1, keepdims=True)
        else:  # linf: a convex piecewise-linear function of t; its minimum is at a kink or an end
            t = np.stack([-r[..., 0] / d[..., 0], -r[..., 1] / d[..., 1],
                          -(r[..., 0] - r[..., 1]) / (d[..., 0] - d[..., 1]),
                          -(r[..., 0] + r[..., 1]) / (d[..., 0] + d[..., 1])], -1)  # fmt: skip
    t = np.clip(np.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0), 0.0, upper[None, :, None])
    gap = r[..., None, :] + t[..., None] * d[..., None, :]  # [n, m, k, 2]
    size = np.linalg.norm(gap, axis=-1) if norm == "l2" else np.abs(gap).max(-1)
    return size.min(-1)


class NearestNeighbor(ExactClassifier):
    """1-NN on the training points (Euclidean), its ε-adversarial error exact in 2-D under ℓ2 or ℓ∞."""

    method_name = "nearest_neighbor"

    def __init__(self, norm: str = "linf", chunk: int = 128) -> None:
        self.norm, self.chunk = norm, int(chunk)

    def bind(self, datamodule, norm, eval_eps) -> None:
        super().bind(datamodule, norm, eval_eps)
        self.norm = norm

    def check_data(self, datamodule) -> None:
        if tuple(datamodule.in_shape) != (2,):
            raise ConfigError(
                f"method={self.method_name}: its exact adversarial error is for points in the plane; "
                f"data={datamodule.name} has inputs of shape {tuple(datamodule.in_shape)}"
            )

    def fit(self, x: np.ndarray, y: np.ndarray) -> NearestNeighbor:
        self.points, self.labels = np.asarray(x, dtype=np.float64), np.asarray(y)
        self.tree = KDTree(self.points)
        self.origins, self.directions, self.upper, pairs = _edges(self.points)
        self.edge_labels = self.labels[pairs]  # [m, 2]: the labels on either side of each edge
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.labels[self.tree.query(np.asarray(x, dtype=np.float64))[1]]

    def distance_to_other_labels(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per row: the least ``norm`` distance from x to a point classified ≠ y (0 if x is)."""
        x = np.asarray(x, dtype=np.float64)
        out = np.zeros(len(x))
        correct = self.predict(x) == y
        for label in np.unique(y[correct]):
            rows = np.flatnonzero(correct & (y == label))
            # The boundary of the other labels' region: edges with exactly one side labelled `label`.
            keep = (self.edge_labels == label).sum(1) == 1
            if not keep.any():
                out[rows] = np.inf
                continue
            for start in range(0, len(rows), self.chunk):
                part = rows[start : start + self.chunk]
                out[part] = _distances_to_edges(x[part], self.origins[keep], self.directions[keep],
                                                self.upper[keep], self.norm).min(1)  # fmt: skip
        return out

    def adversarially_wrong(self, x: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
        return self.distance_to_other_labels(x, y) <= eps

    def adversarially_wrong_by_eps(self, x, y, grid):
        distance = self.distance_to_other_labels(x, y)  # the expensive part, once for the grid
        return {eps: distance <= eps for eps in grid}

    def summary(self) -> dict[str, float]:
        margins = self.distance_to_other_labels(self.points, self.labels)
        return {"min_margin_exact": float(margins.min()), "median_margin_exact": float(np.median(margins))}
