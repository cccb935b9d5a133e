"""Restricted ImageNet from an ImageNet-style folder tree (``train/`` and ``val/``, one folder per
WordNet id), in two variants:

- ``fine2coarse``: the paper's Table 2 (App. C.3), 10 coarse classes × 6 fine ImageNet classes,
  named as in the table and resolved to WordNet ids through the standard ImageNet-1k class order
  (``assets/imagenet1k_classes.tsv``). The real tree gives 77,237 training and 3,000 test images.
  ``label_set=fine`` trains on the 60 fine classes, ``coarse`` on the 10 coarse ones, and
  ``fine2coarse`` on the fine ones, evaluated on the coarse ones.
- ``tsipras9``: Tsipras et al. (2019)'s 9 classes, each a range of ImageNet-1k indices.

Images are decoded from the files (DataLoader workers, pinned memory) with the standard transforms:
RandomResizedCrop(224) and a flip for training, Resize(256) and CenterCrop(224) for evaluation.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from benign_lightning.data.base import LabelNoiseDataModule
from benign_lightning.data.download import default_data_dir
from benign_lightning.data.image_files import ImageFiles
from benign_lightning.plumbing.errors import ConfigError

# Table 2 of the paper: coarse class -> its six fine ImageNet classes (ImageNet-1k names).
FINE2COARSE_TABLE: dict[str, tuple[str, ...]] = {
    "dog": ("Chihuahua", "Japanese_spaniel", "Maltese_dog", "Pekinese", "Shih-Tzu", "Blenheim_spaniel"),
    "bird": ("cock", "hen", "ostrich", "brambling", "goldfinch", "house_finch"),
    "insect": (
        "tiger_beetle",
        "ladybug",
        "ground_beetle",
        "long-horned_beetle",
        "leaf_beetle",
        "dung_beetle",
    ),
    "monkey": ("guenon", "patas", "baboon", "macaque", "langur", "colobus"),
    "car": ("jeep", "limousine", "cab", "beach_wagon", "ambulance", "convertible"),
    "feline": ("leopard", "snow_leopard", "jaguar", "lion", "cougar", "lynx"),
    "truck": ("tow_truck", "moving_van", "fire_engine", "pickup", "garbage_truck", "police_van"),
    "fruit": ("Granny_Smith", "rapeseed", "corn", "acorn", "hip", "buckeye"),
    "fungus": ("agaric", "gyromitra", "stinkhorn", "earthstar", "hen-of-the-woods", "coral_fungus"),
    "boat": ("gondola", "fireboat", "speedboat", "lifeboat", "yawl", "canoe"),
}
# Tsipras et al. (2019): class -> inclusive range of ImageNet-1k indices.
TSIPRAS9_RANGES: dict[str, tuple[int, int]] = {
    "dog": (151, 268), "cat": (281, 285), "frog": (30, 32), "turtle": (33, 37), "bird": (80, 100),
    "primate": (365, 382), "fish": (389, 397), "crab": (118, 121), "insect": (300, 319),
}  # fmt: skip
VARIANTS = ("fine2coarse", "tsipras9")
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}


@cache
def imagenet1k_classes() -> tuple[tuple[str, str], ...]:
    """(wnid, name) of the 1000 classes, in the standard order."""
    text = resources.files("benign_lightning.data").joinpath("assets/imagenet1k_classes.tsv").read_text()
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return tuple((wnid, name) for _, wnid, name in rows)


def wnid_of(name: str) -> str:
    matches = [wnid for wnid, n in imagenet1k_classes() if n == name]
    if len(matches) != 1:
        raise ValueError(f"ImageNet-1k class name {name!r} matches {len(matches)} classes")
    return matches[0]


def variant_classes(variant: str) -> list[tuple[str, int, int]]:
    """(wnid, fine label, coarse label) of every ImageNet class the variant uses."""
    if variant == "fine2coarse":
        return [
            (wnid_of(name), coarse * 6 + j, coarse)
            for coarse, names in enumerate(FINE2COARSE_TABLE.values())
            for j, name in enumerate(names)
        ]
    classes = imagenet1k_classes()
    return [
        (classes[index][0], label, label)
        for label, (first, last) in enumerate(TSIPRAS9_RANGES.values())
        for index in range(first, last + 1)
    ]


def _eval_transform():
    from torchvision.transforms import v2

    return v2.Compose([v2.Resize(256, antialias=True), v2.CenterCrop(224)])


def _train_transform():
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip()])


class RestrictedImageNetDataModule(LabelNoiseDataModule):
    """Restricted ImageNet (``<data_dir>/imagenet/{train,val}/<wnid>/*.JPEG``), label noise on the
    training split. Always served by DataLoader workers."""

    name = "restricted_imagenet"
    in_shape = (3, 224, 224)
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)

    def __init__(
        self,
        *,
        root: str | None = None,
        variant: str = "fine2coarse",
        label_set: str = "coarse",
        download: bool = False,
        augment: bool = True,
        **kwargs,
    ) -> None:
        if variant not in VARIANTS:
            raise ConfigError(f"data.variant={variant!r} is unknown; choose one of {', '.join(VARIANTS)}")
        if label_set not in ("fine", "coarse", "fine2coarse") or (
            variant == "tsipras9" and label_set != "coarse"
        ):
            allowed = "fine, coarse, fine2coarse" if variant == "fine2coarse" else "coarse"
            raise ConfigError(
                f"data.label_set={label_set!r} is not allowed with variant={variant}; choose {allowed}"
            )
        if download:
            raise ConfigError(
                "data.download=true: ImageNet cannot be downloaded automatically (its licence needs a "
                "login at image-net.org); put the train/ and val/ folders under data.root"
            )
        if kwargs.get("loader", "dataloader") != "dataloader":
            raise ConfigError("Restricted ImageNet is read from files: data.loader must be dataloader")
        kwargs["loader"] = "dataloader"
        self.variant, self.label_set = variant, label_set
        self.classes = variant_classes(variant)
        self.num_classes = len({c[2] if label_set == "coarse" else c[1] for c in self.classes})
        self.fine2coarse = label_set == "fine2coarse"
        self.coarse_of_fine = tuple(coarse for _, _, coarse in sorted(self.classes, key=lambda c: c[1]))
        self.root = Path(root or Path(default_data_dir()) / "imagenet").expanduser().resolve()
        self.augment_train = bool(augment)
        super().__init__(**kwargs)

    def check_available(self) -> None:
        for split in ("train", "val"):
            missing = [wnid for wnid, _, _ in self.classes if not (self.root / split / wnid).is_dir()]
            if missing:
                raise ConfigError(
                    f"Restricted ImageNet ({self.variant}) not found: {len(missing)} of its "
                    f"{len(self.classes)} class folders are missing in {self.root / split} (e.g. "
                    f"{', '.join(missing[:3])}). Expected an ImageNet-style tree, "
                    "<root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG; set data.root=PATH."
                )

    def _files(self, split: str) -> tuple[ImageFiles, torch.Tensor]:
        paths, labels = [], []
        for wnid, fine, coarse in self.classes:
            folder = self.root / split / wnid
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            paths += [str(p) for p in files]
            labels += [coarse if self.label_set == "coarse" else fine] * len(files)
        # Evaluation passes decode with as many threads as the training DataLoader has workers.
        files = ImageFiles(np.array(paths), _eval_transform(), workers=self.num_workers)
        return files, torch.tensor(labels, dtype=torch.int64)

    def load_arrays(self):
        x_train, y_train = self._files("train")
        x_test, y_test = self._files("val")
        return x_train, y_train, x_test, y_test

    def train_transform(self):
        return _train_transform() if self.augment_train else _eval_transform()
