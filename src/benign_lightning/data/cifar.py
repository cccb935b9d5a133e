"""CIFAR-10 and CIFAR-100 from the original python-format pickles.

The files are read here rather than by torchvision's ``CIFAR10``/``CIFAR100``: torchvision checks
each file's md5 (so it rejects the tiny generated files the tests use) and reads only the fine
labels of CIFAR-100, while the same files also hold the 20 superclass (``coarse_labels``) labels.
``data.download=true`` still uses torchvision to fetch and verify the archives.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from benign_lightning.data.download import DownloadableDataModule
from benign_lightning.data.files import damaged
from benign_lightning.data.human_noise import CIFAR10N_LABELS, CIFAR100N_LABELS
from benign_lightning.data.noise import CIFAR10_PAIRS
from benign_lightning.plumbing.errors import ConfigError

LABEL_SETS = ("fine", "coarse", "fine2coarse")


def read_cifar_pickle(path: Path, label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N×3×32×32 uint8) and labels of one python-format CIFAR file; a file that does not
    load or does not hold them is a ConfigError naming it."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[label_key.encode()], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError) as e:
        raise damaged(path, f"the pickle does not load: {type(e).__name__}: {e}") from None
    except KeyError as e:
        raise damaged(path, f"no {e} entry") from None
    except ValueError as e:
        raise damaged(path, f"its data is not N rows of 3072 bytes: {e}") from None
    if len(labels) != len(data):
        raise damaged(path, f"{len(data)} images but {len(labels)} labels")
    return torch.from_numpy(data.copy()), torch.from_numpy(labels)


class _CIFARDataModule(DownloadableDataModule):
    """Shared by CIFAR-10 and CIFAR-100: python pickles under ``<data_dir>/<folder>/``."""

    in_shape = (3, 32, 32)
    crop_padding = 4  # the standard augmentation: 4-pixel padded random crop and flip
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    archive_name: str

    def __init__(self, *, augment: bool = True, **kwargs) -> None:
        super().__init__(augment=augment, **kwargs)

    @property
    def files_dir(self) -> Path:
        return self.data_dir / self.folder

    def missing_files(self) -> list[str]:
        return [f for f in (*self.train_files, *self.test_files) if not (self.files_dir / f).exists()]

    def expected_files(self, missing: list[str]) -> str:
        return f"the python-format files {', '.join(missing)} (the {self.archive_name} archive, unpacked)"

    def _label_key(self) -> str:
        return "labels"

    def checksums(self) -> dict[str, str]:
        import torchvision.datasets

        # The originals' md5 sums, as torchvision's own class lists them.
        dataset = getattr(torchvision.datasets, self.torchvision_name)
        return dict(dataset.train_list + dataset.test_list)

    def load_arrays(self):
        key = self._label_key()
        train = [read_cifar_pickle(self.files_dir / f, key) for f in self.train_files]
        test = [read_cifar_pickle(self.files_dir / f, key) for f in self.test_files]
        x_train, y_train = (torch.cat(t) for t in zip(*train, strict=True))
        x_test, y_test = (torch.cat(t) for t in zip(*test, strict=True))
        return x_train, y_train, x_test, y_test


class CIFAR10DataModule(_CIFARDataModule):
    """CIFAR-10 (``<data_dir>/cifar-10-batches-py/``), label noise on the training split."""

    name = "cifar10"
    num_classes = 10
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)
    pairs = CIFAR10_PAIRS
    human_labels = CIFAR10N_LABELS  # noise_mode=human: CIFAR-10N
    folder = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    archive_name = "cifar-10-python.tar.gz"
    torchvision_name = "CIFAR10"


class CIFAR100DataModule(_CIFARDataModule):
    """CIFAR-100 (``<data_dir>/cifar-100-python/``) on its 100 fine or 20 coarse labels
    (``label_set``); the label noise applies to the label set being trained. ``fine2coarse`` trains
    on the fine labels and evaluates on the coarse ones (App. C.3)."""

    name = "cifar100"
    mean = (0.5071, 0.4865, 0.4409)
    std = (0.2673, 0.2564, 0.2762)
    folder = "cifar-100-python"
    train_files = ("train",)
    test_files = ("test",)
    archive_name = "cifar-100-python.tar.gz"
    torchvision_name = "CIFAR100"

    def __init__(self, *, label_set: str = "fine", **kwargs) -> None:
        if label_set not in LABEL_SETS:
            raise ConfigError(
                f"data.label_set={label_set!r} is unknown; choose one of {', '.join(LABEL_SETS)}"
            )
        self.label_set = label_set
        self.num_classes = 20 if label_set == "coarse" else 100
        self.fine2coarse = label_set == "fine2coarse"
        self.coarse_of_fine = CIFAR100_COARSE_OF_FINE
        # noise_mode=human: CIFAR-100N, whose noisy labels are of the label set being trained.
        wanted = "noisy_coarse" if label_set == "coarse" else "noisy"
        self.human_labels = {wanted: CIFAR100N_LABELS[wanted]}
        super().__init__(**kwargs)

    def _label_key(self) -> str:
        return "coarse_labels" if self.label_set == "coarse" else "fine_labels"


# CIFAR-100's 20 superclasses and their fine classes (Krizhevsky 2009). Both label sets are numbered
# in alphabetical order of their names, as in the dataset's ``meta`` file.
CIFAR100_SUPERCLASSES: dict[str, tuple[str, ...]] = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}
CIFAR100_COARSE_NAMES = tuple(sorted(CIFAR100_SUPERCLASSES))
CIFAR100_FINE_NAMES = tuple(sorted(f for fines in CIFAR100_SUPERCLASSES.values() for f in fines))
# coarse label of each fine label
CIFAR100_COARSE_OF_FINE: tuple[int, ...] = tuple(
    CIFAR100_COARSE_NAMES.index(next(c for c, fines in CIFAR100_SUPERCLASSES.items() if f in fines))
    for f in CIFAR100_FINE_NAMES
)
