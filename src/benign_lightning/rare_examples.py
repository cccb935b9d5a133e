"""Figures 1 and 4 of the paper from finished runs: the training points a robust model leaves unfit
(and a natural one fits), shown as images, and the test points they mislead.

- **Figure 1** (§1, §3.2): the training points of lowest robust margin on their given label, with
  the given label and both models' predictions; the paper says of its robust models that they
  "neither predicts correctly on the training set labels for any of the examples identified in
  Figure 1 ... whereas natural training does". The grid is for a reader to judge whether those
  labels are wrong: that is what the figure is for.
- **Figure 4** (App. D.2): for each test point the robust model misclassifies and the natural one
  classifies correctly, its most influential training point (Zhang & Feldman's estimate, among its
  top 10) that the robust model also leaves unfit, drawn as a pair with the influence.

Both read only the results contract: the runs' ``noise.npz``, ``predictions.npz`` and
``config.yaml`` (the images come from the run's own datamodule), and the ensemble job's
``memorization_scores.npz`` (``influence.py``).

    python -m benign_lightning.rare_examples JOB_DIR --robust RUN_DIR --natural RUN_DIR
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from benign_lightning.analysis.influence import _positions, read_member
from benign_lightning.plumbing.io import atomic_savefig, atomic_write_json, atomic_write_text

FIGURE1_SHOWN = 24
FIGURE4_PAIRS = 12


def _images(run_dir: Path) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """The run's training images by dataset index and its test images in order (uint8 or float,
    channel first), read through the run's own datamodule."""
    from omegaconf import OmegaConf

    from benign_lightning.run.builders import build_datamodule

    datamodule = build_datamodule(OmegaConf.load(run_dir / "config.yaml"))
    datamodule.prepare_data()
    datamodule.setup("fit")
    noise = np.load(run_dir / "noise.npz")
    rows = noise["dataset_index"][~noise["heldout"].astype(bool)]
    train = datamodule.train.x.cpu().numpy()
    return {int(d): train[i] for i, d in enumerate(rows)}, datamodule.test.x.cpu().numpy()


def _aligned(robust: Path, natural: Path) -> dict[str, np.ndarray]:
    """The robust run's training rows and, on the same rows, the natural run's outcomes."""
    for run in (robust, natural):
        # predictions.npz holds the trained rows only: with a held-out split its rows would not line
        # up with the noise mask's, so such runs are refused rather than misread.
        if np.load(run / "noise.npz")["heldout"].any():
            raise ValueError(f"{run} held out part of its training set (data.holdout > 0): Figures 1 and 4 "
                             "need runs that train on every row; rerun with data.holdout=0")
    rob, nat = read_member(robust), read_member(natural)
    position = _positions(nat.dataset_index)
    if any(int(d) not in position for d in rob.dataset_index):
        raise ValueError(f"{natural} did not train on {robust}'s training set (set both data_seed alike)")
    rows = np.array([position[int(d)] for d in rob.dataset_index])
    predictions = np.load(robust / "predictions.npz")
    nat_predictions = np.load(natural / "predictions.npz")
    return {
        "dataset_index": rob.dataset_index, "labels": rob.labels, "clean_labels": rob.clean_labels,
        "robust_fit": rob.train_correct, "natural_fit": nat.train_correct[rows],
        "robust_margin": predictions["train_margin"], "robust_pred": predictions["train_pred"],
        "natural_pred": nat_predictions["train_pred"][rows],
        "test_labels": predictions["test_labels"], "robust_test_pred": predictions["test_pred"],
        "natural_test_pred": nat_predictions["test_pred"],
    }  # fmt: skip


def _grid(cells: list[tuple[np.ndarray, str]], path: Path, columns: int = 8) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(cells) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (image, title) in zip(axes.flat, cells, strict=False):
        picture = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
        ax.imshow(picture, cmap="gray" if image.shape[0] == 1 else None)
        ax.set_title(title, fontsize=7)
    fig.tight_layout()
    atomic_savefig(fig, path)
    plt.close(fig)
    return path


def figure1(a: dict[str, np.ndarray], images: dict[int, np.ndarray], out_dir: Path,
            mem: dict[int, float], shown: int = FIGURE1_SHOWN) -> dict[str, Any]:  # fmt: skip
    """The ``shown`` training points of lowest robust margin on their given label (the robust
    model's most confident training errors) among those natural training fits, with both models'
    predictions: ``figure1.png``, ``figure1.csv`` and the numbers the claim reads. ``a``:
    ``_aligned``'s rows; ``images``: the training images by dataset index."""
    left_to_natural = ~a["robust_fit"] & a["natural_fit"]
    unfit = np.flatnonzero(left_to_natural)
    order = unfit[np.argsort(a["robust_margin"][unfit], kind="stable")][:shown]
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["dataset_index", "given_label", "robust_pred", "natural_pred", "robust_margin", "mem"])
    cells = []
    for i in order:
        d = int(a["dataset_index"][i])
        m = mem.get(d)
        writer.writerow([d, int(a["labels"][i]), int(a["robust_pred"][i]), int(a["natural_pred"][i]),
                         f"{a['robust_margin'][i]:.4f}", "" if m is None else f"{m:.3f}"])  # fmt: skip
        title = f"#{d} label {a['labels'][i]}\nrobust {a['robust_pred'][i]}, natural {a['natural_pred'][i]}"
        cells.append((images[d], title))
    atomic_write_text(out_dir / "figure1.csv", table.getvalue())
    figure = _grid(cells, out_dir / "figures" / "figure1.png")
    # The claim's points are chosen without the robust model (else "robust fits none of them" holds by
    # construction): the natural-fit points of highest memorization score, the ones natural training
    # fits only when it has seen them (Zhang & Feldman), as mislabelled and atypical points are.
    scored = [i for i in np.flatnonzero(a["natural_fit"]) if int(a["dataset_index"][i]) in mem]
    memorized = sorted(scored, key=lambda i: -mem[int(a["dataset_index"][i])])[:shown]
    memorized = np.array(memorized, dtype=int)
    return {
        "n_memorized": int(len(memorized)),
        "n_memorized_robust_predicts_given": int((a["robust_pred"] == a["labels"])[memorized].sum()),
        "memorized_least_mem": float(min((mem[int(a["dataset_index"][i])] for i in memorized),
                                         default=np.nan)),
        "n_train": int(len(a["labels"])),
        "n_robust_unfit": int((~a["robust_fit"]).sum()),
        "n_robust_unfit_natural_fit": int(len(unfit)),
        "n_shown": int(len(order)),
        "n_shown_natural_fits": int(a["natural_fit"][order].sum()),
        "n_shown_robust_predicts_given": int((a["robust_pred"][order] == a["labels"][order]).sum()),
        "shown_dataset_index": [int(d) for d in a["dataset_index"][order]],
        "figure": str(figure),
    }


def figure4(scores: Any, a: dict[str, np.ndarray], images: tuple[dict[int, np.ndarray], np.ndarray],
            out_dir: Path, pairs: int = FIGURE4_PAIRS) -> dict[str, Any]:  # fmt: skip
    """Pairs (training point, test point), both misclassified by the robust model and classified
    correctly by the natural one, the training point the most influential such one among the test
    point's top 10; ``figure4.png`` and the numbers the claims read. ``scores``: the ensemble's
    ``memorization_scores.npz``; ``images``: ``_images`` of the robust run."""
    position = _positions(a["dataset_index"])
    rows = np.array([position[int(d)] for d in scores["dataset_index"]])  # scores' rows → ours
    unfit = ~a["robust_fit"][rows] & a["natural_fit"][rows]  # per scores row
    test_labels = a["test_labels"]
    test_wrong = (a["robust_test_pred"] != test_labels) & (a["natural_test_pred"] == test_labels)
    top_train, top_infl = scores["top_train"], scores["top_infl"]
    labels = scores["labels"]

    found, shares = [], []
    for j in np.flatnonzero(test_wrong):
        candidates, influence = top_train[j], top_infl[j]
        positive = np.clip(np.nan_to_num(influence, nan=0.0, neginf=0.0), 0, None)
        if positive.sum() > 0:
            shares.append(float(positive[unfit[candidates]].sum() / positive.sum()))
        chosen = [(int(i), float(v)) for i, v in zip(candidates, influence, strict=True) if unfit[i]]
        if chosen:
            found.append((j, *chosen[0]))
    # Chance: a robust-unfit training point drawn at random is of the test point's class this often.
    unfit_labels = labels[unfit]
    chance = [float((unfit_labels == test_labels[j]).mean()) if len(unfit_labels) else 0.0
              for j, _, _ in found]  # fmt: skip
    same = [bool(labels[i] == test_labels[j]) for j, i, _ in found]
    _draw_pairs(found[:pairs], scores, images, out_dir / "figures" / "figure4.png")
    return {
        "n_test_wrong": int(test_wrong.sum()),
        "n_pairs": len(found),
        "same_class": float(np.mean(same)) if same else None,
        "same_class_count": int(sum(same)),
        "same_class_chance": float(np.mean(chance)) if chance else None,
        "influence_share_from_unfit": float(np.mean(shares)) if shares else None,
        "n_unfit": int(unfit.sum()),
        "unfit_fraction": float(unfit.mean()),
        "pairs": [{"test": int(j), "train_dataset_index": int(scores["dataset_index"][i]), "infl": v}
                  for j, i, v in found],  # fmt: skip
    }


def _draw_pairs(found: list[tuple[int, int, float]], scores, images, path: Path) -> None:
    train_images, test_images = images
    cells = []
    for j, i, value in found:
        d = int(scores["dataset_index"][i])
        cells.append((train_images[d], f"train #{d}\ninfl {value:.2f}"))
        cells.append((test_images[j], f"test #{j}"))
    _grid(cells, path, columns=8)


def write(job_dir: Path, robust: Path, natural: Path) -> dict[str, Any]:
    """Figures 1 and 4 into ``job_dir`` (``figures/figure1.png``, ``figure1.csv``,
    ``figures/figure4.png``) and their numbers in ``rare_examples.json``."""
    # Each file is read once: the runs' rows, their images (a datamodule's setup) and the estimates.
    scores = np.load(job_dir / "memorization_scores.npz")
    a = _aligned(robust, natural)
    if len(scores["top_train"]) != len(a["test_labels"]):
        raise ValueError(f"{job_dir}'s influence estimates cover {len(scores['top_train'])} test points, "
                         f"{robust}'s test set {len(a['test_labels'])}: use runs with the same "
                         "data.test_subset")
    images = _images(robust)
    pairs = zip(scores["dataset_index"], scores["mem"], strict=True)
    mem = {int(d): float(m) for d, m in pairs if np.isfinite(m)}
    summary = {"figure1": figure1(a, images[0], job_dir, mem),
               "figure4": figure4(scores, a, images, job_dir)}  # fmt: skip
    atomic_write_json(job_dir / "rare_examples.json", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benign_lightning.rare_examples",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("job_dir", type=Path, help="the memorization ensemble job (memorization_scores.npz)")
    parser.add_argument("--robust", type=Path, required=True, help="the robust run on the same data")
    parser.add_argument("--natural", type=Path, required=True, help="the natural run on the same data")
    args = parser.parse_args(argv)
    summary = write(args.job_dir, args.robust, args.natural)
    f1, f4 = summary["figure1"], summary["figure4"]
    print(f"Figure 1: {f1['n_shown']} shown of {f1['n_robust_unfit']} training points the robust run leaves "
          f"unfit; natural fits {f1['n_shown_natural_fits']}: {f1['figure']}")
    print(f"Figure 4: {f4['n_pairs']} pairs; same class {f4['same_class']} "
          f"(chance {f4['same_class_chance']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
