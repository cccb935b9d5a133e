"""The training step never waits for the host: no ``.item()``, ``.cpu()``, ``bool(tensor)`` or
tensor built from Python numbers, for natural training, AT and TRADES (on CUDA each of these
synchronises the stream). On a GPU, CUDA's own sync detector checks the same."""

from __future__ import annotations

import contextlib
import functools

import pytest
import torch

from benign_lightning.methods import AdversarialTraining, NaturalTraining, Trades
from benign_lightning.models import build_model

ROBUST = dict(eps=0.1, norm="linf", steps=3, step_size=None, bn_eval=True, seed=0, clamp=(0.0, 1.0))
METHODS = {
    "natural": (NaturalTraining, {}),
    "at": (AdversarialTraining, {**ROBUST, "random_start": True}),
    "trades": (Trades, {**ROBUST, "beta": 6.0}),
}


def _method(name: str, device: str = "cpu"):
    cls, kwargs = METHODS[name]
    spec = dict(name="mnist_cnn", num_classes=10, in_shape=[1, 28, 28], mean=[0.13], std=[0.31])
    torch.manual_seed(0)
    model = build_model(**spec).to(device)
    optimizer = functools.partial(torch.optim.SGD, lr=0.01)
    return cls(model, model_spec=spec, optimizer=optimizer, scheduler=None, **kwargs)


@contextlib.contextmanager
def no_host_sync(monkeypatch):
    """Make every host-syncing call raise while the block runs."""

    def refuse(what):
        def raise_(*args, **kwargs):
            raise AssertionError(f"host sync in the training step: {what}")

        return raise_

    with monkeypatch.context() as m:
        for attr in ("item", "cpu", "tolist", "numpy", "__bool__", "new_tensor"):
            m.setattr(torch.Tensor, attr, refuse(f"Tensor.{attr}"))
        m.setattr(torch, "tensor", refuse("torch.tensor"))
        yield


@pytest.mark.parametrize("name", list(METHODS))
def test_training_step_has_no_host_sync(name, monkeypatch):
    method = _method(name)
    x = torch.rand(16, 1, 28, 28)
    y = torch.arange(16) % 10
    method.on_train_epoch_start()
    with no_host_sync(monkeypatch):
        loss = method.training_step((x, y, torch.arange(16)), 0)
        loss.backward()
    assert torch.isfinite(loss) and float(method._sums[2]) == 16  # the step's count, summed on the device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA's sync detector needs a GPU")
@pytest.mark.parametrize("name", list(METHODS))
def test_training_step_has_no_cuda_sync(name):
    method = _method(name, "cuda")
    x = torch.rand(16, 1, 28, 28, device="cuda")
    y = torch.arange(16, device="cuda") % 10
    method.on_train_epoch_start()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for step in range(3):
            method.training_step((x, y, None), step).backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
