"""Figure 8: the 1-nearest neighbour is much more robust than the networks on blobs (App. C.2, Figure
8): its sweeps per scale and its claims, each with the check that judges it."""

from __future__ import annotations

from benign_lightning.reproduce.entry import Claim, Entry, Sweep
from benign_lightning.reproduce.figures.shared import PLANAR_SMOKE, SEEDS3, eps_curve, fmt3
from benign_lightning.reproduce.results import Results


def _blobs_nn(r: Results) -> tuple[str, bool]:
    nn = eps_curve(r.select("nn")[0])
    eps = max(nn)
    mlps = {str(v.get("model")): eps_curve(v).get(eps) for v in r.select("mlps")}
    ours = f"ε={eps:g}: 1-NN {fmt3(nn[eps])}, " + ", ".join(f"{m} {fmt3(e)}" for m, e in sorted(mlps.items()))
    return ours, all(e is not None and nn[eps] < e for e in mlps.values())


FIG8 = Entry(
    name="fig8",
    title="Figure 8: the 1-nearest neighbour is much more robust than the networks on blobs",
    section="App. C.2, Figure 8",
    sweeps={
        "smoke": (
            Sweep("mlps", ("+experiment=blobs", *PLANAR_SMOKE, "-m", "model=mlp_2x100")),
            Sweep("nn", ("+experiment=blobs", *PLANAR_SMOKE, "method=nearest_neighbor", "-m")),
        ),
        "cpu": (
            Sweep("mlps", ("+experiment=blobs", "-m", "model=mlp_2x100,mlp_4x100", SEEDS3)),
            Sweep("nn", ("+experiment=blobs", "method=nearest_neighbor", "-m")),
        ),
        "paper": (
            Sweep("mlps", ("+experiment=blobs", "-m", "model=mlp_2x100,mlp_2x1000,mlp_4x100")),
            Sweep("nn", ("+experiment=blobs", "method=nearest_neighbor", "-m")),
        ),
    },
    claims=(
        Claim(
            "1-NN",
            "App. C.2: “the 1-nearest neighbour is much more robust than the neural networks”",
            "1-NN's exact adversarial error at the largest ε is below every MLP's (PGD)",
            _blobs_nn,
        ),
    ),
    cost={
        "smoke": "≈ 10 s, CPU",
        "cpu": "3 jobs, 38 s measured on 2 CPU cores",
        "paper": "4 jobs, ≈ 6 min on 2 CPU cores",
    },
    x="eps",
)
