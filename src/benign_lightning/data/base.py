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
from benign_lightning.data.image_files import ImageFileDataset, ImageFiles
from benign_lightning.data.noise import NoisyLabels, check_noise_args, corrupt_labels
from benign_lightning.data.tensor_loader import EpochPermutation, TensorLoader
from benign_lightning.errors import ConfigError

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
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.train_subset, self.test_subset = train_subset, test_subset
        self.noise: NoisyLabels | None = None
        self.train_index: np.ndarray | None = None
        self.train: Split | None = None
        self.heldout: Split | None = None  # for early stopping; its labels carry the same noise
        self.heldout_mask: np.ndarray | None = None  # per noise.npz row: held out of training?
        self.test: Split | None = None

    # --- what a subclass provides -------------------------------------------------------------
    def check_available(self) -> None:
        """Raise ConfigError if the data cannot be loaded (called before any compute)."""

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
        x_train, y_train, x_test, y_test = self.load_arrays()
        self.train_index = self._subset(len(y_train), self.train_subset, stream=11)
        test_index = self._subset(len(y_test), self.test_subset, stream=12)
        x_train, y_train = x_train[self.train_index], y_train[self.train_index]
        x_test, y_test = x_test[test_index], y_test[test_index]

        self.noise = corrupt_labels(
            y_train.numpy(),
            eta=self.eta,
            mode=self.noise_mode,
            num_classes=self.num_classes,
            seed=self.data_seed,
            pairs=self.pairs,
        )
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
        self.noise.save(path, dataset_index=self.train_index, heldout=self.heldout_mask)

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
            batch_size=self.batch_size,
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
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=self.drop_last,
            generator=torch.Generator().manual_seed(self.shuffle_seed),
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )


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
