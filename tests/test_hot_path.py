"""The hot loops never wait for the host: no ``.item()``, ``.cpu()``, ``bool(tensor)``, tensor built
from Python numbers or on the host, copy to a device, or boolean-mask write (on CUDA each of these
synchronises the stream or copies from the host). Checked for the training step of natural
training, AT and TRADES, the margin-loss PGD step (the default strong attack), an ensemble's step
once a member has stopped, and the narrowing of an ensemble's rows at PGD's early stop. On a GPU,
CUDA's own sync detector checks the same."""

from __future__ import annotations

import contextlib
import functools

import pytest
import torch

from benign_lightning.attacks.pgd import pgd
from benign_lightning.methods import AdversarialTraining, NaturalTraining, Trades
from benign_lightning.methods.ensemble import EnsembleNatural
from benign_lightning.models import build_model
from benign_lightning.models.ensemble import StackedModels

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
    model = build_model(**spec)
    optimizer = functools.partial(torch.optim.SGD, lr=0.01)
    # The LightningModule itself is moved, as Lightning moves it: its device is where the step's
    # own tensors (the epoch sums) live.
    return cls(model, model_spec=spec, optimizer=optimizer, scheduler=None, **kwargs).to(device)


# Tensor factories: built without a device they are built on the host, and copied to the device
# where they meet a CUDA tensor.
FACTORIES = ("arange", "zeros", "ones", "full", "empty", "randperm", "eye", "linspace", "randn", "rand")


@contextlib.contextmanager
def no_host_sync(monkeypatch):
    """Make every host-syncing call raise while the block runs."""

    def refuse(what):
        def raise_(*args, **kwargs):
            raise AssertionError(f"host sync in the hot loop: {what}")

        return raise_

    def on_device_only(name, original):
        def factory(*args, **kwargs):
            if kwargs.get("device") is None:
                raise AssertionError(f"host sync in the hot loop: torch.{name} without a device")
            return original(*args, **kwargs)

        return factory

    to, setitem = torch.Tensor.to, torch.Tensor.__setitem__

    def to_same_device(self, *args, **kwargs):
        if kwargs.get("device") is not None or any(isinstance(a, torch.device | str) for a in args):
            raise AssertionError("host sync in the hot loop: Tensor.to(<device>), a copy between devices")
        return to(self, *args, **kwargs)

    def no_mask_write(self, index, value):
        if isinstance(index, torch.Tensor) and index.dtype == torch.bool:
            raise AssertionError("host sync in the hot loop: a boolean-mask write (its nonzero waits)")
        return setitem(self, index, value)

    with monkeypatch.context() as m:
        for attr in ("item", "cpu", "tolist", "numpy", "__bool__", "new_tensor"):
            m.setattr(torch.Tensor, attr, refuse(f"Tensor.{attr}"))
        m.setattr(torch, "tensor", refuse("torch.tensor"))
        for name in FACTORIES:
            m.setattr(torch, name, on_device_only(name, getattr(torch, name)))
        m.setattr(torch.Tensor, "to", to_same_device)
        m.setattr(torch.Tensor, "__setitem__", no_mask_write)
        yield


@pytest.mark.parametrize("name", list(METHODS))
def test_training_step_has_no_host_sync(name, monkeypatch):
    method = _method(name)
    x = torch.rand(16, 1, 28, 28)
    y = torch.arange(16) % 10
    index = torch.arange(16)
    method.on_train_epoch_start()
    with no_host_sync(monkeypatch):
        loss = method.training_step((x, y, index), 0)
        loss.backward()
    assert torch.isfinite(loss) and float(method._sums[2]) == 16  # the step's count, summed on the device


def test_the_guard_catches_what_it_names(monkeypatch):
    """Each refusal fires on the call it is there for (a guard that never fires tests nothing)."""
    g = torch.zeros(4, 3)
    calls = [
        lambda: g[torch.arange(4), 0],  # the old margin loss's host-built row index
        lambda: g.to(torch.device("cpu")),
        lambda: g.__setitem__(g[:, 0] > 0, 1.0),
        lambda: g.tolist(),
    ]
    with no_host_sync(monkeypatch):
        for call in calls:
            with pytest.raises(AssertionError, match="host sync"):
                call()


def test_margin_pgd_step_has_no_host_sync(monkeypatch):
    """attack=linf_strong's loss: its logit direction is built on the logits' device."""
    torch.manual_seed(0)
    model = build_model(name="mlp", num_classes=10, in_shape=[1, 28, 28], width=32, depth=2)
    x, y = torch.rand(8, 1, 28, 28), torch.arange(8) % 10
    with no_host_sync(monkeypatch):
        x_adv = pgd(model, x, y, eps=0.1, steps=3, step_size=0.05, loss="margin")
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6 and not torch.equal(x_adv, x)


def _ensemble(vmapped: bool = True) -> EnsembleNatural:
    spec = dict(name="mlp", num_classes=10, in_shape=[1, 28, 28], width=32, depth=2)
    members = []
    for k in range(3):
        torch.manual_seed(k)
        members.append(build_model(**spec))
    optimizer = functools.partial(torch.optim.SGD, lr=0.1)
    return EnsembleNatural(StackedModels(members, vmapped=vmapped), model_spec=spec, optimizer=optimizer,
                           scheduler=None, member_seeds=[0, 1, 2])  # fmt: skip


def test_ensemble_step_with_a_stopped_member_has_no_host_sync(monkeypatch):
    """Once member 1 has stopped, its weights are put back after every step by an index copy of
    weights kept on the device: no host-to-device copy, no boolean-mask write."""
    method = _ensemble()
    optimizer = method.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    method.on_train_epoch_start()
    method.stop_members([1])
    frozen = {name: p.detach()[1].clone() for name, p in method.model.stacked.items()}
    x, y = torch.rand(3, 8, 1, 28, 28), torch.arange(24).view(3, 8) % 10
    with no_host_sync(monkeypatch):
        for step in range(2):
            method.training_step((x, y, None), step).backward()
            optimizer.step()
            optimizer.zero_grad()
            method._restore_stopped()
    for name, p in method.model.stacked.items():
        assert torch.equal(p.detach()[1], frozen[name])  # the stopped member kept its weights
        assert not torch.equal(p.detach()[0], method.model.stacked[name].detach()[1])


def test_narrowing_an_ensembles_rows_at_early_stop_has_no_host_sync(monkeypatch):
    """PGD's early stop narrows an ensemble's rows at each step; the narrowed rows keep their
    batch's padded width instead of reading their counts back from the device."""
    stacked = _ensemble(vmapped=True).model
    owner = torch.tensor([2, 0, 2, 1, 0, 2])
    x = torch.rand(6, 1, 28, 28)
    rows = stacked.rows(owner)
    keep = torch.tensor([True, False, True, True, False, True])
    with no_host_sync(monkeypatch):
        narrowed = rows.select_rows(keep)
        logits = narrowed(x[keep])
    torch.testing.assert_close(logits, rows(x)[keep], rtol=1e-5, atol=1e-6)
    assert narrowed.width == rows.width == 3  # member 2 keeps its 3 rows
    one_left = rows.select_rows(torch.tensor([False, False, False, True, False, False]))
    assert one_left.width == 1  # bounded by the rows left: early-stopped PGD gets cheaper


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA's sync detector needs a GPU")
def test_margin_pgd_and_a_stopped_members_step_have_no_cuda_sync():
    torch.manual_seed(0)
    model = build_model(name="mlp", num_classes=10, in_shape=[1, 28, 28], width=32, depth=2).cuda()
    x, y = torch.rand(8, 1, 28, 28, device="cuda"), torch.arange(8, device="cuda") % 10
    method = _ensemble().to("cuda")
    optimizer = method.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    method.on_train_epoch_start()
    method.stop_members([1])
    xs, ys = torch.rand(3, 8, 1, 28, 28, device="cuda"), torch.arange(24, device="cuda").view(3, 8) % 10
    torch.cuda.set_sync_debug_mode("error")
    try:
        pgd(model, x, y, eps=0.1, steps=3, step_size=0.05, loss="margin")
        for step in range(2):
            method.training_step((xs, ys, None), step).backward()
            optimizer.step()
            method._restore_stopped()
    finally:
        torch.cuda.set_sync_debug_mode("default")
