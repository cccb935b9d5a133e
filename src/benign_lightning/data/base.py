"""The shared shape of every datamodule: clean data, label noise injected once in ``setup``, and the
loaders (device-resident tensors, or a DataLoader over tensors or image files)."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from benign_lightning.data.augment import crop_flip_transform, random_crop_flip
from benign_lightning.data.human_noise import human_noisy_labels, label_arrays
from benign_lightning.data.image_files import ImageFileDataset, ImageFiles
from benign_lightning.data.noise import NoisyLabels, check_noise_args, corrupt_labels
from benign_lightning.data.tensor_loader import EpochPermutation, TensorLoader
from benign_lightning.plumbing.errors import ConfigError

LOADERS = ("tensor", "dataloader")


def to_unit_interval(x: torch.Tensor | ImageFiles) -> torch.Tensor:
    """uint8 images → float in [0, 1]; float inputs pass through (they already are in [0, 1]);
    image files are decoded first."""
    if isinstance(x, ImageFiles):
        x = x.load()
    return x.float().div_(255) if x.dtype == torch.uint8 else x


@dataclass
class Split:
    """One split of a dataset: inputs (uint8 or float, N×C×H×W) and the labels used for it.

    An ensemble evaluates its members' splits stacked into one (``stack_splits``); ``member`` then
    names each row's member."""

    x: torch.Tensor
    y: torch.Tensor
    member: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, rows: slice) -> Split:
        """The rows ``rows`` as a Split (views, no copy)."""
        member = self.member[rows] if self.member is not None else None
        return Split(self.x[rows], self.y[rows], member)

    def inputs(self, index: torch.Tensor) -> torch.Tensor:
        """The inputs at ``index``, as float in [0, 1]."""
        return to_unit_interval(self.x[index])

    def batches(self, batch_size: int):
        """Yield ``(x in [0, 1], y)`` in order, for evaluation."""
        for start in range(0, len(self), batch_size):
            yield to_unit_interval(self.x[start : start + batch_size]), self.y[start : start + batch_size]


def stack_splits(splits: list[Split]) -> Split:
    """The members' splits one after the other (member-major), each row naming its member."""
    member = torch.cat(
        [torch.full((len(s),), k, dtype=torch.long, device=s.y.device) for k, s in enumerate(splits)]
    )
    return Split(torch.cat([s.x for s in splits]), torch.cat([s.y for s in splits]), member)


class LabelNoiseDataModule(pl.LightningDataModule, ABC):
    """Base class of every datamodule: subclasses say what the data is (``load_arrays``: tensors, or
    image files); this class subsets it, corrupts the labels, holds a split out and serves batches.

    The training labels are corrupted once, in ``setup``, from ``data_seed`` alone (see
    ``noise.corrupt_labels``); the test split is never corrupted.
    """

    name: str = "dataset"
    num_classes: int
    in_shape: tuple[int, int, int]
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    pairs: dict[int, int] | None = None
    crop_padding: int | None = None  # random crop + flip augmentation (data.augment), if it has one
    # The box every input lies in (pixel space); attack.clamp=auto clamps adversarial examples to it.
    input_range: tuple[float, float] | None = (0.0, 1.0)
    # Fine2Coarse (App. C.3): train on fine labels, evaluate on coarse ones. A subclass that offers
    # it sets ``coarse_of_fine`` (the coarse label of each fine one) and ``fine2coarse = True``.
    coarse_of_fine: tuple[int, ...] | None = None
    fine2coarse: bool = False
    # Each data file compared with the original's checksum, where known: "original" or "differs".
    file_report: dict[str, str] = {}
    # noise_mode=human: the noise_label choices of this dataset's human-noise file (CIFAR-10N/100N),
    # each the file's key of the noisy labels and of the clean ones; None: the dataset has none.
    human_labels: dict[str, tuple[str, str]] | None = None

    def __init__(
        self,
        *,
        eta: float = 0.0,
        noise_mode: str = "uniform",
        data_seed: int = 0,
        shuffle_seed: int = 0,
        batch_size: int = 128,
        eval_batch_size: int = 1000,
        train_subset: int | None = None,
        test_subset: int | None = None,
        holdout: float = 0,
        holdout_seed: int | None = None,
        cv_folds: int | None = None,
        cv_fold: int | None = None,
        noise_file: str | None = None,
        noise_label: str | None = None,
        drop_last: bool = False,
        augment: bool = False,
        loader: str = "tensor",
        num_workers: int = 4,
    ) -> None:
        super().__init__()
        check_noise_args(eta, noise_mode)
        if noise_mode == "flip" and float(eta) > 0 and getattr(self, "num_classes", 2) != 2:
            raise ConfigError(
                f"data.noise_mode='flip' is for binary labels, this dataset has {self.num_classes} classes "
                "(data.label_set); use uniform or symmetric"
            )
        for key, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
            if int(value) < 1:
                raise ConfigError(f"data.{key} must be a positive integer, got {value}")
        for key, value in (("train_subset", train_subset), ("test_subset", test_subset)):
            if value is not None and int(value) < 1:
                raise ConfigError(f"data.{key} must be null or a positive integer, got {value}")
        if not (0 <= holdout < 1 or (holdout >= 1 and float(holdout).is_integer())):
            raise ConfigError(
                f"data.holdout must be a fraction in [0, 1) or a whole number of examples, got {holdout}"
            )
        self.holdout, self.drop_last = holdout, bool(drop_last)
        self.cv_folds, self.cv_fold = _check_cv(cv_folds, cv_fold, holdout)
        self.noise_file, self.noise_label = _check_human(self, noise_mode, eta, noise_file, noise_label)
        # Which rows are held out: drawn from data_seed by default; an ensemble estimating
        # memorization holds out other rows per member with the same noise (holdout_seed: ${seed}).
        self.holdout_seed = int(data_seed if holdout_seed is None else holdout_seed)
        if loader not in LOADERS:
            raise ConfigError(f"data.loader={loader!r} is unknown; choose one of {', '.join(LOADERS)}")
        if augment and self.crop_padding is None:
            raise ConfigError(f"data.augment=true: {type(self).__name__} has no augmentation")
        self.augment, self.loader, self.num_workers = bool(augment), loader, int(num_workers)
        self.eta, self.noise_mode = float(eta), noise_mode
        self.data_seed, self.shuffle_seed = int(data_seed), int(shuffle_seed)
        # data.batch_size is the global batch (the paper's, the recipe's): split evenly across the
        # DDP ranks at setup, so 1 device, 4 devices or 2 nodes take the same SGD steps.
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.rank_batch_size = self.batch_size
        self.train_subset, self.test_subset = train_subset, test_subset
        self.noise: NoisyLabels | None = None
        self.train_index: np.ndarray | None = None
        self.train: Split | None = None
        self.heldout: Split | None = None  # for early stopping; its labels carry the same noise
        self.heldout_mask: np.ndarray | None = None  # per noise.npz row: held out of training?
        self.cv_fold_of_row: np.ndarray | None = None  # per noise.npz row: its fold (data.cv_folds)
        self.test: Split | None = None

    # --- what a subclass provides -------------------------------------------------------------
    def check_available(self) -> None:
        """Raise ConfigError if the data cannot be loaded (called before any compute)."""

    def check_noise_file(self) -> None:
        """``noise_mode=human``: the file must be a CIFAR-N archive with the chosen labels (called
        before any compute; its length and clean labels are checked against the data at setup)."""
        if self.noise_mode == "human":
            label_arrays(self.noise_file, self.noise_label, self.human_labels)

    @abstractmethod
    def load_arrays(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return clean ``(x_train, y_train, x_test, y_test)``; x is uint8 or float in [0, 1]."""

    # --- the shared part ------------------------------------------------------------------------
    def _subset(self, n: int, k: int | None, stream: int, seed: int | None = None) -> np.ndarray:
        if k is None or k >= n:
            return np.arange(n)
        seed = self.data_seed if seed is None else seed
        rng = np.random.default_rng(np.random.SeedSequence([seed, stream]))
        return np.sort(rng.choice(n, size=int(k), replace=False))

    def setup(self, stage: str | None = None) -> None:
        if self.train is not None:
            return
        world = int(self.trainer.world_size) if self.trainer is not None else 1
        self.rank_batch_size = rank_batch_size(self.batch_size, world)
        x_train, y_train, x_test, y_test = self.load_arrays()
        self.train_index = self._subset(len(y_train), self.train_subset, stream=11)
        test_index = self._subset(len(y_test), self.test_subset, stream=12)
        self.noise = self._noisy_labels(y_train.numpy())
        x_train = x_train[self.train_index]
        x_test, y_test = x_test[test_index], y_test[test_index]
        # The tensor path holds the data on the training device; the DataLoader path on the host.
        device = torch.device("cpu")
        if self.trainer is not None and self.loader == "tensor":
            device = self.trainer.strategy.root_device
        noisy = torch.from_numpy(self.noise.noisy_labels)
        # The held-out rows are drawn after the noise, so the noise mask does not depend on holdout.
        self.heldout_mask = self._heldout_mask(len(noisy))
        keep = torch.from_numpy(~self.heldout_mask)
        self.train = Split(x_train[keep].to(device), noisy[keep].to(device))
        if self.drop_last and len(self.train) < self.batch_size:
            raise ConfigError(
                f"data.drop_last=true (speed.compile) with data.batch_size={self.batch_size} and "
                f"{len(self.train)} training examples: no full batch; lower data.batch_size"
            )
        if self.heldout_mask.any():
            held = torch.from_numpy(self.heldout_mask)
            self.heldout = Split(x_train[held].to(device), noisy[held].to(device))
        self.test = Split(x_test.to(device), y_test.long().to(device))
        if self.fine2coarse:
            self.test = Split(self.test.x, self._to_coarse(self.test.y))

    def _noisy_labels(self, clean: np.ndarray) -> NoisyLabels:
        """The training rows' labels (``clean``: the whole training set's), corrupted from
        ``data_seed`` (§3.1); under ``noise_mode=human`` the file's labels, checked against the whole
        training set and then subset, with ``eta`` the file's rate over the training rows."""
        rows = self.train_index
        if self.noise_mode != "human":
            return corrupt_labels(
                clean[rows], eta=self.eta, mode=self.noise_mode, num_classes=self.num_classes,
                seed=self.data_seed, pairs=self.pairs,
            )  # fmt: skip
        full = human_noisy_labels(self.noise_file, self.noise_label, clean, allowed=self.human_labels)
        clean, noisy = full.clean_labels[rows], full.noisy_labels[rows]
        self.eta = float((noisy != clean).mean()) if len(rows) else 0.0
        return NoisyLabels(clean, noisy, np.flatnonzero(noisy != clean))

    def _to_coarse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.tensor(self.coarse_of_fine, device=y.device)[y]

    # --- the splits as evaluation sees them (coarse labels under Fine2Coarse) -------------------
    @property
    def eval_train(self) -> Split:
        return Split(self.train.x, self._to_coarse(self.train.y)) if self.fine2coarse else self.train

    @property
    def eval_heldout(self) -> Split | None:
        if self.fine2coarse and self.heldout is not None:
            return Split(self.heldout.x, self._to_coarse(self.heldout.y))
        return self.heldout

    @property
    def eval_clean_train_labels(self) -> torch.Tensor:
        clean = self.clean_train_labels
        return self._to_coarse(clean) if self.fine2coarse else clean

    def _heldout_mask(self, n: int) -> np.ndarray:
        if self.cv_folds:  # K-fold cross-validation: fold cv_fold is held out
            self.cv_fold_of_row = cv_fold_ids(n, self.cv_folds, self.data_seed)
            mask = self.cv_fold_of_row == self.cv_fold
            if mask.all() or not mask.any():
                raise ConfigError(f"data.cv_folds={self.cv_folds}: {n} training examples are too few")
            return mask
        k = int(self.holdout) if self.holdout >= 1 else int(round(self.holdout * n))
        if k >= n:
            raise ConfigError(f"data.holdout={self.holdout} leaves no training data ({n} examples)")
        mask = np.zeros(n, dtype=bool)
        mask[self._subset(n, k, stream=13, seed=self.holdout_seed) if k else []] = True
        return mask

    @property
    def clean_train_labels(self) -> torch.Tensor:
        """The clean labels of the training split's rows (held-out rows excluded)."""
        assert self.noise is not None and self.train is not None, "call setup() first"
        clean = self.noise.clean_labels[~self.heldout_mask]
        return torch.from_numpy(clean).to(self.train.y.device)

    def noise_digest(self) -> str:
        """A hash of the noisy labels and the rows they belong to: equal on every DDP rank."""
        assert self.noise is not None, "call setup() first"
        h = hashlib.sha256()
        for array in (self.train_index, self.noise.noisy_labels, self.heldout_mask):
            h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()[:16]

    def save_noise(self, path) -> None:
        """Write ``noise.npz``: indices, clean_labels, noisy_labels, and per row its dataset index and
        whether it was held out of training."""
        assert self.noise is not None, "call setup() first"
        extra = {"cv_fold": self.cv_fold_of_row} if self.cv_fold_of_row is not None else {}
        self.noise.save(path, dataset_index=self.train_index, heldout=self.heldout_mask, **extra)

    def train_dataloader(self) -> TensorLoader | DataLoader:
        assert self.train is not None, "call setup() first"
        if self.loader == "dataloader":
            return self._torch_dataloader()
        augment = None
        if self.augment:
            padding = self.crop_padding

            def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
                return random_crop_flip(x, padding, generator)

        sampler = EpochPermutation(
            len(self.train), shuffle=True, seed=self.shuffle_seed, drop_last=self.drop_last
        )
        return TensorLoader(
            self.train.x,
            self.train.y,
            batch_size=self.rank_batch_size,
            sampler=sampler,
            transform=to_unit_interval,
            augment=augment,
        )

    def train_transform(self):
        """The per-image training transform of the DataLoader path (None: the image as it is)."""
        return crop_flip_transform(self.in_shape[1:], self.crop_padding) if self.augment else None

    def _torch_dataloader(self) -> DataLoader:
        """The usual path: per-image transforms in worker processes, pinned host memory. Under DDP
        Lightning swaps in a DistributedSampler."""
        if isinstance(self.train.x, ImageFiles):
            dataset = ImageFileDataset(self.train.x, self.train.y, self.train_transform())
        else:
            dataset = ImageTensors(self.train.x, self.train.y, self.train_transform())
        return DataLoader(
            dataset,
            batch_size=self.rank_batch_size,
            shuffle=True,
            drop_last=self.drop_last,
            generator=torch.Generator().manual_seed(self.shuffle_seed),
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )


def rank_batch_size(batch_size: int, world_size: int) -> int:
    """Each rank's share of the global ``data.batch_size``; a batch that does not split evenly is a
    ConfigError (ranks of unequal batches would weigh their examples unequally in DDP's mean)."""
    if batch_size % world_size:
        below = batch_size - batch_size % world_size
        options = f"{below} or {below + world_size}" if below else f"{world_size}"
        raise ConfigError(
            f"data.batch_size={batch_size} is the global batch, split evenly across the {world_size} DDP "
            f"ranks (trainer.devices x trainer.num_nodes); it must divide by {world_size}: use {options}"
        )
    return batch_size // world_size


def cv_fold_ids(n: int, folds: int, data_seed: int) -> np.ndarray:
    """Each of ``n`` training rows' fold of ``folds``: a random permutation (from ``data_seed``
    alone, so every fold's run draws the same split) dealt out in turn, so fold sizes differ by at
    most one and every row is held out exactly once over the folds."""
    rng = np.random.default_rng(np.random.SeedSequence([int(data_seed), 14]))  # stream 14: the folds
    fold = np.empty(n, dtype=np.int64)
    fold[rng.permutation(n)] = np.arange(n) % folds
    return fold


def _check_cv(cv_folds: int | None, cv_fold: int | None, holdout: float) -> tuple[int | None, int]:
    """``data.cv_folds`` (null, or K >= 2) and ``data.cv_fold`` (null: 0, or the ensemble member's
    index; else in [0, K)); the fold is the held-out split, so ``data.holdout`` must be 0."""
    if cv_folds is None:
        if cv_fold is not None:
            raise ConfigError(f"data.cv_fold={cv_fold} needs data.cv_folds (the number of folds, >= 2)")
        return None, 0
    if int(cv_folds) < 2:
        raise ConfigError(f"data.cv_folds={cv_folds}: K-fold cross-validation needs K >= 2 (or null)")
    fold = 0 if cv_fold is None else int(cv_fold)
    if not 0 <= fold < int(cv_folds):
        raise ConfigError(
            f"data.cv_fold={cv_fold} is not a fold of data.cv_folds={cv_folds}: choose 0..{int(cv_folds) - 1}"
        )
    if holdout:
        raise ConfigError(
            f"data.holdout={holdout} with data.cv_folds={cv_folds}: the held-out fold is the held-out split; "
            "set data.holdout=0"
        )
    return int(cv_folds), fold


def _check_human(
    datamodule: LabelNoiseDataModule, mode: str, eta: float, noise_file: str | None, noise_label: str | None
) -> tuple[str | None, str | None]:
    """``noise_mode=human`` needs a dataset with human labels, ``data.noise_file`` and one of its
    ``data.noise_label`` choices, and no ``eta`` (the file's labels set the rate)."""
    if mode != "human":
        return noise_file, noise_label
    choices = datamodule.human_labels
    if choices is None:
        raise ConfigError(
            f"data.noise_mode=human: {type(datamodule).__name__} has no human label noise; it is for "
            "data=cifar10 (CIFAR-10N) and data=cifar100 (CIFAR-100N)"
        )
    if not noise_file:
        raise ConfigError(
            "data.noise_mode=human needs data.noise_file=<path to CIFAR-10_human.pt or CIFAR-100_human.pt>"
        )
    if noise_label not in choices:
        raise ConfigError(
            f"data.noise_label={noise_label!r} is not allowed here; choose one of {', '.join(choices)}"
        )
    if float(eta) != 0:
        raise ConfigError(
            f"eta={eta} with data.noise_mode=human: the noise rate is the file's (reported as eta); "
            "leave eta=0"
        )
    return str(noise_file), str(noise_label)


class ImageTensors(Dataset):
    """``(x in [0, 1], y, index)`` per example of uint8 image tensors, with a per-image transform."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform=None) -> None:
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        x = self.x[i]
        if self.transform is not None:
            x = self.transform(x)
        return to_unit_interval(x), self.y[i], i
