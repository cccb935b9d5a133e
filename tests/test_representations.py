"""Figure 3's snapshots see what the model sees in training: uint8 images mapped to [0, 1]."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from conftest import make_idx_mnist
from torch import nn

from benign_lightning.attacks.spec import AttackSpec
from benign_lightning.callbacks.representations import RepresentationSnapshots, penultimate
from benign_lightning.data import MNISTDataModule


class InputRange(nn.Module):
    """A small classifier that remembers the largest input it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU())
        self.head = nn.Linear(16, 10)
        self.largest = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.largest = max(self.largest, float(x.detach().max()))
        return self.head(self.body(x))


def test_snapshots_of_mnist_images_are_taken_on_unit_interval_inputs(tmp_path):
    root = make_idx_mnist(tmp_path, n_train=60, n_test=30)
    data = MNISTDataModule(data_dir=str(root), eta=0.5, data_seed=0)
    data.prepare_data()
    data.setup()
    assert data.train.x.dtype == torch.uint8 and int(data.train.x.max()) > 200  # raw pixel values
    torch.manual_seed(0)
    model = InputRange()
    callback = RepresentationSnapshots(
        epochs=[1], n_points=10, attack=AttackSpec(name="pgd", norm="linf", steps=2), eps=0.1, seed=0,
        path=tmp_path / "representations.npz", figure=None,
    )  # fmt: skip
    trainer = SimpleNamespace(datamodule=data)
    callback._capture(trainer, SimpleNamespace(model=model, device=torch.device("cpu")), "epoch_1")

    assert model.largest <= 1.0  # every input the snapshots and the attack fed it: [0, 1]
    rows = callback._chosen["train"]["clean"]
    expected = penultimate(model, data.train.x[torch.from_numpy(rows)].float() / 255)
    np.testing.assert_allclose(callback.snapshots["epoch_1_clean"], expected, rtol=1e-6)
