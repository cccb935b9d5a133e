"""Which training points does one run fit that another does not (§3.2, Figures 1 and 4)?

Both runs must have trained on the same data and labels (same dataset, subset, noise and held-out
rows); then a point is *fit* by a run when its final prediction equals its (possibly noisy) label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import OmegaConf

from benign_lightning.data.base import LabelNoiseDataModule
from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.plumbing.io import atomic_write

_SAME_DATA_KEYS = ("dataset_index", "clean_labels", "noisy_labels")


@dataclass
class FitDifference:
    """The training rows fit by run A and not by run B, with their labels."""

    rows: np.ndarray  # rows of the training split
    dataset_index: np.ndarray  # the same points as indices of the original training set
    given: np.ndarray  # the (noisy) labels trained on
    true: np.ndarray  # the clean labels
    n_train: int

    @property
    def corrupted(self) -> np.ndarray:
        return self.given != self.true

    def summary(self, name_a: str, name_b: str) -> str:
        n, k = len(self.rows), int(self.corrupted.sum())
        share = f" ({k / n:.1%})" if n else ""
        return (
            f"{n} of {self.n_train} training points are fit by {name_a} and not by {name_b}; "
            f"{k} of them{share} are in the corrupted set"
        )


def _load_npz(run_dir: Path, name: str) -> dict[str, np.ndarray]:
    path = run_dir / name
    if not path.exists():
        raise ConfigError(f"{path} does not exist; is {run_dir} a finished benign_lightning run?")
    with np.load(path) as f:
        return dict(f)


def fit_difference(run_a: str | Path, run_b: str | Path) -> FitDifference:
    """The training points that ``run_a`` fits and ``run_b`` does not."""
    run_a, run_b = Path(run_a), Path(run_b)
    noise_a, noise_b = _load_npz(run_a, "noise.npz"), _load_npz(run_b, "noise.npz")
    for key in _SAME_DATA_KEYS:
        if not np.array_equal(noise_a[key], noise_b[key]):
            raise ConfigError(
                f"{run_a} and {run_b} trained on different data ({key} differs in noise.npz); "
                "compare runs with the same data, eta, noise_mode and data_seed"
            )
    in_train = ~noise_a.get("heldout", np.zeros(len(noise_a["noisy_labels"]), dtype=bool))
    given, true = noise_a["noisy_labels"][in_train], noise_a["clean_labels"][in_train]
    pred_a = _load_npz(run_a, "predictions.npz")["train_pred"]
    pred_b = _load_npz(run_b, "predictions.npz")["train_pred"]
    if not (len(pred_a) == len(pred_b) == len(given)):
        raise ConfigError(f"train_pred of {run_a} and {run_b} do not match their noise.npz rows")
    rows = np.flatnonzero((pred_a == given) & (pred_b != given))
    return FitDifference(
        rows=rows,
        dataset_index=noise_a["dataset_index"][in_train][rows],
        given=given[rows],
        true=true[rows],
        n_train=len(given),
    )


def training_datamodule(run_dir: str | Path, data_dir: str | None = None) -> LabelNoiseDataModule:
    """The run's datamodule, set up on the CPU from its ``config.yaml`` (``data_dir`` overrides)."""
    cfg = OmegaConf.load(Path(run_dir) / "config.yaml")
    if data_dir is not None and "data_dir" in cfg.data:
        cfg.data.data_dir = data_dir
    datamodule = instantiate(cfg.data)
    datamodule.check_available()
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def save_image_grid(
    images: np.ndarray, titles: list[str], path: str | Path, columns: int = 8, title: str = ""
) -> Path:
    """A grid of images (N×C×H×W in [0, 1]) with one title each, written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(images), 1)
    cols = min(columns, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, titles, strict=False):
        image = np.transpose(image, (1, 2, 0))
        ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(label, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
    return Path(path)
