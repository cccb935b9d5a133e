"""noise_mode=human: CIFAR-10N/100N label files (generated here in the real format: a torch zip
archive whose data.pkl is a dict of int64 numpy arrays) as the training labels."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
import torch
from conftest import QUIET, make_cifar, read_json

from benign_lightning.data import CIFAR10DataModule, CIFAR100DataModule, MNISTDataModule
from benign_lightning.data.cifar import CIFAR100_COARSE_OF_FINE
from benign_lightning.data.human_noise import read_human_labels
from benign_lightning.plumbing.errors import ConfigError


def write_human_file(path, arrays: dict[str, np.ndarray]):
    """A CIFAR-N file as the release has it: ``torch.save`` of a dict of numpy arrays."""
    torch.save({k: np.asarray(v, dtype=np.int64) for k, v in arrays.items()}, path)
    return path


def cifar10_clean(n_per_file: int = 20) -> np.ndarray:
    """The training labels ``make_cifar`` writes for CIFAR-10, in file order."""
    return np.concatenate([(np.arange(n_per_file) + i) % 10 for i in range(1, 6)])


def noisy_version(clean: np.ndarray, rate: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noisy = clean.copy()
    rows = rng.choice(len(clean), size=int(rate * len(clean)), replace=False)
    noisy[rows] = (clean[rows] + rng.integers(1, 10, len(rows))) % 10
    return noisy


@pytest.fixture
def cifar10n(tmp_path):
    make_cifar(tmp_path, "cifar10", n_per_file=20)
    clean = cifar10_clean()
    labels = {
        "clean_label": clean,
        "aggre_label": noisy_version(clean, 0.09, 1),
        "worse_label": noisy_version(clean, 0.40, 2),
        "random_label1": noisy_version(clean, 0.17, 3),
        "random_label2": noisy_version(clean, 0.18, 4),
        "random_label3": noisy_version(clean, 0.18, 5),
    }
    return tmp_path, write_human_file(tmp_path / "CIFAR-10_human.pt", labels), labels


@pytest.mark.parametrize("label,key", [("aggre", "aggre_label"), ("worst", "worse_label"),
                                       ("random1", "random_label1")])  # fmt: skip
def test_the_noisy_labels_are_the_files_and_the_rate_is_exact(cifar10n, label, key):
    root, path, labels = cifar10n
    dm = CIFAR10DataModule(data_dir=str(root), noise_mode="human", noise_file=str(path), noise_label=label)
    dm.setup()
    np.testing.assert_array_equal(dm.train.y.numpy(), labels[key])
    np.testing.assert_array_equal(dm.noise.clean_labels, labels["clean_label"])
    differ = labels[key] != labels["clean_label"]
    np.testing.assert_array_equal(dm.noise.corrupted, differ)
    np.testing.assert_array_equal(dm.noise.indices, np.flatnonzero(differ))
    assert dm.eta == differ.mean()  # 9%, 40%, 17% of 100 images: exact, from the file


def test_a_training_subset_takes_the_files_labels_of_its_images(cifar10n):
    root, path, labels = cifar10n
    dm = CIFAR10DataModule(data_dir=str(root), noise_mode="human", noise_file=str(path), noise_label="worst",
                           train_subset=30, data_seed=4)  # fmt: skip
    dm.setup()
    np.testing.assert_array_equal(dm.train.y.numpy(), labels["worse_label"][dm.train_index])
    assert dm.eta == (labels["worse_label"] != labels["clean_label"])[dm.train_index].mean()


def test_a_run_reports_the_files_rate_as_eta_and_records_the_mask(cifar10n, main_in_process):
    root, path, labels = cifar10n
    code, _, err = main_in_process(
        "data=cifar10", f"data.data_dir={root}", "data.noise_mode=human", f"data.noise_file={path}",
        "data.noise_label=random1", "arch=resnet18", "trainer.fast_dev_run=true", "data.batch_size=10",
        "attack.steps=1", "attack.checks=none", *QUIET, "hydra.run.dir=run",
    )  # fmt: skip
    assert code == 0, err[-3000:]
    run = root / "run"
    results = read_json(run / "results.json")
    differ = labels["random_label1"] != labels["clean_label"]
    assert results["eta"] == differ.mean() == 0.17 and results["noise_mode"] == "human"
    assert results["n_noisy"] == 17
    noise = np.load(run / "noise.npz")
    np.testing.assert_array_equal(noise["noisy_labels"] != noise["clean_labels"], differ)


def test_a_file_of_other_images_or_length_is_refused_naming_it(cifar10n, tmp_path):
    root, _, labels = cifar10n
    short = write_human_file(tmp_path / "short.pt", {k: v[:99] for k, v in labels.items()})
    with pytest.raises(ConfigError, match=r"short\.pt: 99 aggre_label entries for 100 training images"):
        CIFAR10DataModule(data_dir=str(root), noise_mode="human", noise_file=str(short),
                          noise_label="aggre").setup()  # fmt: skip
    shifted = dict(labels, clean_label=np.roll(labels["clean_label"], 1))
    other = write_human_file(tmp_path / "other.pt", shifted)
    with pytest.raises(ConfigError, match=r"other\.pt: its clean_label differs .* at 100 of 100 images"):
        CIFAR10DataModule(data_dir=str(root), noise_mode="human", noise_file=str(other),
                          noise_label="aggre").setup()  # fmt: skip


def test_cifar100n_fine_and_coarse_noise_follow_the_label_set(tmp_path):
    make_cifar(tmp_path, "cifar100", n_per_file=20)
    fine = (np.arange(100) + 1) % 100
    coarse = np.asarray(CIFAR100_COARSE_OF_FINE)[fine]
    noisy_fine, noisy_coarse = np.roll(fine, 3), coarse.copy()
    noisy_coarse[:26] = (coarse[:26] + 1) % 20
    path = write_human_file(tmp_path / "CIFAR-100_human.pt", {
        "clean_label": fine, "noisy_label": noisy_fine,
        "clean_coarse_label": coarse, "noisy_coarse_label": noisy_coarse,
    })  # fmt: skip
    dm = CIFAR100DataModule(data_dir=str(tmp_path), label_set="coarse", noise_mode="human",
                            noise_file=str(path), noise_label="noisy_coarse")  # fmt: skip
    dm.setup()
    np.testing.assert_array_equal(dm.train.y.numpy(), noisy_coarse)
    assert dm.eta == 0.26
    refused = "data.noise_label='noisy_coarse' is not allowed here; choose one of noisy"
    with pytest.raises(ConfigError, match=refused):
        CIFAR100DataModule(data_dir=str(tmp_path), label_set="fine", noise_mode="human", noise_file=str(path),
                           noise_label="noisy_coarse")  # fmt: skip


def test_only_numpy_arrays_are_unpickled(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("unpickled",))

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"clean_label": Payload()}))
    with pytest.raises(ConfigError, match=r"evil\.pt: its data.pkl is refused: it asks for builtins.print"):
        read_human_labels(path)
    tensors = write_human_file(tmp_path / "ok.pt", {"clean_label": np.arange(3)})
    assert read_human_labels(tensors)["clean_label"].tolist() == [0, 1, 2]
    torch.save({"clean_label": torch.arange(3)}, tmp_path / "tensor.pt")
    with pytest.raises(ConfigError, match="torch._utils._rebuild_tensor_v2; only numpy arrays are read"):
        read_human_labels(tmp_path / "tensor.pt")
    (tmp_path / "plain.pt").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="not a torch zip archive"):
        read_human_labels(tmp_path / "plain.pt")


@pytest.mark.parametrize(
    "make,kwargs,message",
    [
        (MNISTDataModule, {"noise_file": "x.pt", "noise_label": "aggre"},
         "MNISTDataModule has no human label noise"),
        (CIFAR10DataModule, {"noise_label": "aggre"}, "data.noise_mode=human needs data.noise_file"),
        (CIFAR10DataModule, {"noise_file": "x.pt", "noise_label": "noisy"},
         "data.noise_label='noisy' is not allowed here; choose one of aggre, random1"),
        (CIFAR10DataModule, {"noise_file": "x.pt", "noise_label": "aggre", "eta": 0.2},
         "eta=0.2 with data.noise_mode=human: the noise rate is the file's"),
    ],
)  # fmt: skip
def test_bad_human_noise_settings_are_refused_before_any_data_is_read(make, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make(noise_mode="human", **kwargs)


def test_a_missing_file_is_refused_before_any_compute_saying_where_to_get_it(cifar10n, main_in_process):
    root, _, _ = cifar10n
    code, _, err = main_in_process(
        "data=cifar10", f"data.data_dir={root}", "data.noise_mode=human",
        f"data.noise_file={root / 'nope.pt'}", "data.noise_label=aggre", "arch=resnet18", "hydra.run.dir=run",
    )  # fmt: skip
    assert code == 2 and "nope.pt: no such file. CIFAR-10N/100N are not shipped" in err
    assert not any((root / "run" / f).exists() for f in ("config.yaml", "noise.npz", "results.json"))
