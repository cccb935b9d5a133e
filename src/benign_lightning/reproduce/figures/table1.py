"""Table 1: CIFAR-10 ResNet-50 with ℓ2 adversarial training, train and test accuracy per ε (§3.2, Table
1): its sweeps per scale and its claims, each with the check that judges it."""

from __future__ import annotations

from benign_lightning.reproduce.entry import Claim, Entry, Sweep
from benign_lightning.reproduce.figures.shared import CIFAR_CPU, CIFAR_SMOKE
from benign_lightning.reproduce.results import NoRuns, Results

TABLE1_PAPER = {0.0: (99.98, 95.25), 0.25: (97.23, 92.77), 1.0: (86.03, 81.62)}


# Table 1 reports one model per ε and no spread. ±1.5 points (ours) allows for seed-to-seed and
# implementation differences of a 150-epoch CIFAR-10 ResNet-50 recipe (the paper names none; ours is
# the robustness library's), while a model of another regime (too few epochs, no augmentation, a
# weaker attack) misses by more.
TABLE1_TOLERANCE = 1.5


def _table1_rows(r: Results) -> dict[float, tuple[float, float]]:
    eps = sorted({float(v.get("eps")) for v in r.select("l2")})
    return {e: (100 * (1 - r.mean("l2", "train_err", eps=e)), 100 * (1 - r.mean("l2", "natural_err", eps=e)))
            for e in eps}  # fmt: skip


def _table1_falling(r: Results) -> tuple[str, bool]:
    rows = _table1_rows(r)
    ours = "; ".join(f"ε={e:g}: train {a:.2f}%, test {b:.2f}%" for e, (a, b) in rows.items())
    train, test = [a for a, _ in rows.values()], [b for _, b in rows.values()]
    falling = all(x > y for x, y in zip(train, train[1:], strict=False)) and all(
        x > y for x, y in zip(test, test[1:], strict=False)
    )
    return ours, len(rows) > 1 and falling


def _table1_numbers(r: Results) -> tuple[str, bool]:
    rows = _table1_rows(r)
    missing = set(TABLE1_PAPER) - set(rows)
    if missing:
        raise NoRuns(f"no run at ε = {', '.join(f'{e:g}' for e in sorted(missing))}")
    parts, holds = [], True
    for e, (paper_train, paper_test) in TABLE1_PAPER.items():
        train, test = rows[e]
        parts.append(f"ε={e:g}: train {train:.2f}% (paper {paper_train}), test {test:.2f}% "
                     f"(paper {paper_test})")  # fmt: skip
        holds = holds and max(abs(train - paper_train), abs(test - paper_test)) <= TABLE1_TOLERANCE
    return "; ".join(parts), holds


TABLE1 = Entry(
    name="table1",
    title="Table 1: CIFAR-10 ResNet-50 with ℓ2 adversarial training, train and test accuracy per ε",
    section="§3.2, Table 1",
    sweeps={
        "smoke": (
            Sweep("l2", ("+experiment=cifar_l2_at", *CIFAR_SMOKE, "train_attack.steps=1", "-m", "eps=0,1.0")),
        ),
        "cpu": (
            Sweep(
                "l2",
                ("+experiment=cifar_l2_at", *CIFAR_CPU, "-m", "eps=0,0.25,1.0"),
            ),
        ),
        "paper": (Sweep("l2", ("+experiment=cifar_l2_at", "-m", "eps=0,0.25,1.0")),),
    },
    claims=(
        Claim(
            "falling",
            "§3.2: “both the training and test accuracy (on clean data) for commonly used deep learning "
            "models drops with increasing strength of the PGD adversary used (see Table 1)”",
            "train and test accuracy both fall as ε grows",
            _table1_falling,
        ),
        Claim(
            "numbers",
            "§3.2, Table 1: train / test accuracy 99.98 / 95.25% (ε = 0), 97.23 / 92.77% (ε = 0.25), "
            "86.03 / 81.62% (ε = 1.0)",
            f"every train and test accuracy within {TABLE1_TOLERANCE} points of the paper's (the paper "
            "reports one model per ε and no spread; the tolerance, ours, allows for seed and implementation "
            "differences of one recipe)",
            _table1_numbers,
            scales=("paper",),
            regime="the CPU and smoke scales train on a 5000-image subset for 30 epochs, not the paper's "
            "recipe, so their accuracies are not comparable with Table 1's",
        ),
    ),
    cost={"smoke": "≈ 30 s, CPU", "cpu": "hours on a CPU (a GPU job)", "paper": "3 jobs: ≈ 30 GPU-hours"},
    needs="CIFAR-10 (BENIGN_DATA_DIR/cifar-10-batches-py)",
    x="eps",
    paper_numbers=tuple(
        (f"ε = {e:g}: train / test accuracy", f"{a}% / {b}%") for e, (a, b) in TABLE1_PAPER.items()
    ),
)
