"""Closed-form classifiers with exact adversarial errors: the 1-NN of Figure 8d agrees with a
brute-force search of the ε-ball, and the exact methods run through the CLI into the usual run
folder, refusing data, norms and ε they do not cover before anything is fitted."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import QUIET, read_json

from benign_lightning.exact import NearestNeighbor


def _checkerboard(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).uniform(-1, 1, (n, 2))
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int64)


def _brute_force_distance(nn: NearestNeighbor, q: np.ndarray, label: int, norm: str, reach: float,
                          n: int = 801) -> tuple[float, float]:  # fmt: skip
    """The least distance from q to a point of a fine grid classified ≠ label, and the grid's step."""
    g = np.linspace(-reach, reach, n)
    pts = q + np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    dist = np.linalg.norm(pts - q, axis=1) if norm == "l2" else np.abs(pts - q).max(1)
    wrong = nn.predict(pts) != label
    return (float(dist[wrong].min()) if wrong.any() else np.inf), float(g[1] - g[0])


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_nearest_neighbor_distances_match_a_brute_force_search(norm):
    x, y = _checkerboard(25, seed=1)
    nn = NearestNeighbor(norm=norm).fit(x, y)
    q, yq = _checkerboard(30, seed=2)
    exact = nn.distance_to_other_labels(q, yq)
    reach = 0.6
    for k in range(len(q)):
        brute, step = _brute_force_distance(nn, q[k], yq[k], norm, reach)
        if exact[k] == 0:  # misclassified: the point itself is wrong
            assert nn.predict(q[k : k + 1])[0] != yq[k]
        elif exact[k] < reach - 2 * step:
            # No grid point closer than the exact distance is wrong; one within a grid step is.
            assert exact[k] - 1e-9 <= brute <= exact[k] + 2 * step, (k, exact[k], brute)
        else:
            assert brute >= reach - 2 * step
    # adversarially_wrong is the distance against eps
    assert (nn.adversarially_wrong(q, yq, 0.1) == (exact <= 0.1)).all()
    by_eps = nn.adversarially_wrong_by_eps(q, yq, [0.05, 0.1])  # one distance pass for the grid
    assert all((by_eps[e] == (exact <= e)).all() for e in (0.05, 0.1))


def test_nearest_neighbor_margins_of_a_line_are_half_the_gap():
    # Two columns of points at x = -1 and x = +1: the boundary is x = 0, every margin is 1.
    ys = np.linspace(-3, 3, 7)
    x = np.concatenate([np.stack([np.full(7, -1.0), ys], 1), np.stack([np.full(7, 1.0), ys], 1)])
    y = np.repeat([0, 1], 7)
    nn = NearestNeighbor(norm="l2").fit(x, y)
    assert nn.summary()["min_margin_exact"] == pytest.approx(1.0)
    assert nn.distance_to_other_labels(np.array([[-0.25, 10.0]]), np.array([0]))[0] == pytest.approx(0.25)


def test_nearest_neighbor_runs_through_the_cli(tmp_path, main_in_process):
    code, _, stderr = main_in_process("data=blobs", "method=nearest_neighbor", "eta=0.1",
                                      "data.n_train=300", "data.n_test=200", "logger=none", *QUIET,
                                      "hydra.run.dir=r")  # fmt: skip
    assert code == 0, stderr
    results = read_json(tmp_path / "r" / "results.json")
    assert results["method"] == "nearest_neighbor" and results["attack"]["name"] == "exact"
    assert results["train_err"] == 0 and results["noisy_fit"] == 1.0  # 1-NN fits every noisy label
    curve = [results["adv_err_by_eps"][k] for k in sorted(results["adv_err_by_eps"], key=float)]
    assert curve == sorted(curve) and results["adv_err_by_eps"]["0.0"] == results["natural_err"]
    # the grid's margin estimate brackets the exact one
    assert abs(results["margin"]["min"] - results["min_margin_exact"]) <= results["margin"]["grid_spacing"]
    for name in ("results.json", "noise.npz", "predictions.npz", "config.yaml", "env.json",
                 "figures/decision_regions.png"):  # fmt: skip
        assert (tmp_path / "r" / name).exists(), name


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data=intervals", "method=nearest_neighbor"], "points in the plane; data=intervals"),
        (["data=blobs", "method=parity"], "method=parity classifies data=intervals only"),
        (["data=intervals", "method=union_of_intervals", "attack.eval_eps=[0.1,0.3]"],
         r"attack.eval_eps \[0.3\]: method=union_of_intervals is exact only for eps < 0.25"),
        (["data=blobs", "method=nearest_neighbor", "attack=autoattack"], "attack"),
    ],
)  # fmt: skip
def test_what_an_exact_method_cannot_compute_is_refused(overrides, message, main_in_process):
    code, _, stderr = main_in_process(*overrides, "logger=none", *QUIET, "hydra.run.dir=r")
    assert code != 0 and "error:" in stderr
    assert __import__("re").search(message, stderr), stderr
