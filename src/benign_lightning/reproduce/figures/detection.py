"""Noise detection: robust training's errors against confident learning on one noise mask (§3.2's
detector (beyond the paper: Northcutt et al. 2021's confident learning)): its sweeps per scale and
its claims, each with the check that judges it."""

from __future__ import annotations

from pathlib import Path

from benign_lightning.reproduce.entry import Claim, Entry, Sweep
from benign_lightning.reproduce.results import NoRuns, Results


def _detect(folders: dict[str, Path]) -> None:
    """``detect`` on the entry's runs; its table and PR curves go into the natural sweep's folder."""
    from benign_lightning.analysis.noise_detection import detect

    detect([folders[k] for k in ("natural", "cv", "robust")], folders["natural"])


def _detection_rows(r: Results) -> dict[str, dict[str, str]]:
    import csv

    path = r.sweep_dirs["natural"] / "detection.csv"
    if not path.exists():
        raise NoRuns("no detection.csv (the runs or the detect step did not finish)")
    with open(path) as f:
        return {row["detector"]: row for row in csv.DictReader(f)}


def _detection_at(r: Results) -> tuple[str, bool]:
    at = _detection_rows(r).get("AT training errors")
    if at is None:
        raise NoRuns("no AT run in the detection table")
    ours = f"AT: precision {at['precision']}, recall {at['recall']}, AUROC {at['auroc']} of its margin"
    return ours, float(at["auroc"]) >= 0.9


def _detection_vs_cl(r: Results) -> tuple[str, bool]:
    rows = _detection_rows(r)
    at, cl = (
        rows.get("AT training errors"),
        next((v for k, v in rows.items() if k.startswith("confident")), None),
    )
    if at is None or cl is None:
        raise NoRuns("the detection table lacks AT or confident learning")
    return f"average precision: AT {at['ap']}, confident learning {cl['ap']}", float(at["ap"]) >= float(
        cl["ap"]
    )


DETECT_COMMON = ("+experiment=noise_detection", "arch=mlp", "model=mlp_2x1000", "figures=false")
ROBUST = ("small_loss_epoch=null",)  # the robust runs' own detector reads their margins
DETECT_CPU = (*DETECT_COMMON, "data.train_subset=4000", "data.test_subset=500")
DETECT_SMOKE = (*DETECT_COMMON, "data.train_subset=300", "data.test_subset=100", "attack.steps=3")
CV = ("method=natural", "ensemble.size=4", "data.cv_folds=4", "memorization=false", "small_loss_epoch=null")
DETECTION = Entry(
    name="detection",
    title="Noise detection: robust training's errors against confident learning on one noise mask",
    section="§3.2's detector (beyond the paper: Northcutt et al. 2021's confident learning)",
    sweeps={
        "smoke": (
            Sweep(
                "natural",
                (*DETECT_SMOKE, "trainer.max_epochs=3", "small_loss_epoch=2", "-m", "method=natural"),
            ),
            Sweep("cv", (*DETECT_SMOKE, *CV, "trainer.max_epochs=2", "-m")),
            Sweep(
                "robust",
                (*DETECT_SMOKE, *ROBUST, "train_attack.steps=2", "trainer.max_epochs=2", "-m", "method=at"),
            ),
        ),
        "cpu": (
            Sweep("natural", (*DETECT_CPU, "trainer.max_epochs=60", "-m", "method=natural")),
            Sweep("cv", (*DETECT_CPU, *CV, "trainer.max_epochs=20", "-m")),
            Sweep(
                "robust",
                (
                    *DETECT_CPU,
                    *ROBUST,
                    "train_attack.steps=5",
                    "trainer.max_epochs=20",
                    "-m",
                    "method=at,trades",
                ),
            ),
        ),
        "paper": (
            Sweep("natural", ("+experiment=noise_detection", "-m", "method=natural")),
            Sweep("cv", ("+experiment=noise_detection", *CV, "-m")),
            Sweep(
                "robust",
                (
                    "+experiment=noise_detection",
                    *ROBUST,
                    "eps=0.3",
                    "train_attack.steps=30",
                    "train_attack.step_size=0.01",
                    "-m",
                    "method=at,trades",
                ),
            ),
        ),
    },
    claims=(
        Claim(
            "ranking",
            "beyond the paper: §3.2 reads robust training's training errors as the mislabelled points (its "
            "precision claim is judged in sec3.2); here AT's score, minus its margin on the given label, "
            "ranks the noise mask",
            "AUROC of AT's score against the noise mask ≥ 0.9",
            _detection_at,
            per_seed=False,
        ),
        Claim(
            "vs confident learning",
            "beyond the paper: does §3.2's detector rank the mislabelled points as "
            "well as confident learning (Northcutt et al. 2021) on the same mask?",
            "AT's average precision ≥ confident learning's (4-fold CV)",
            _detection_vs_cl,
            per_seed=False,
        ),
    ),
    cost={
        "smoke": "≈ 40 s, CPU",
        "cpu": "4 jobs on 4000 MNIST images (uniform η = 0.15), 2.6 min measured",
        "paper": "full MNIST, 30-step AT: ≈ 6 GPU-hours",
    },
    needs="MNIST (BENIGN_DATA_DIR/MNIST/raw)",
    post=_detect,
)


# In the paper's order: §3.1, §3.2, the appendix, the theory, then beyond the paper.
