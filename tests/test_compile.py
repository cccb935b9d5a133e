"""speed.compile: the training step runs a ``torch.compile``d model that trains as the eager one does,
checkpoints keep the eager model's keys, and training batches have one shape (data.drop_last)."""

from __future__ import annotations

import pytest
import torch
from conftest import QUIET, read_json
from test_hot_path import _method


def _train(name: str, compile_model: bool, steps: int = 3):
    method = _method(name)
    method.compile_model = compile_model
    optimizer = method.configure_optimizers()
    g = torch.Generator().manual_seed(1)
    method.on_train_epoch_start()
    for step in range(steps):
        x, y = torch.rand(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g)
        optimizer.zero_grad()
        method.training_step((x, y, None), step).backward()
        optimizer.step()
    return method


@pytest.mark.parametrize("name", ["natural", "at"])
def test_compiled_training_step_trains_as_the_eager_one(name):
    torch._dynamo.reset()
    eager, compiled = _train(name, False), _train(name, True)
    assert isinstance(compiled.train_net, torch._dynamo.eval_frame.OptimizedModule)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # it did compile
    assert list(compiled.state_dict()) == list(eager.state_dict())  # no "_orig_mod." keys
    for (key, a), b in zip(eager.state_dict().items(), compiled.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=key)


def test_speed_compile_drops_the_last_partial_batch(tmp_path, main_in_process):
    # toy-MNIST: 100 training points in batches of 32 -> 3 full batches, the 4 left over dropped.
    code, _, stderr = main_in_process(*QUIET, "speed.compile=true", "data.n_train=100", "data.n_test=50",
                                      "data.batch_size=32", "trainer.max_epochs=2", "trainer.min_epochs=null",
                                      "attack.steps=2", "logger=none", "hydra.run.dir=r")  # fmt: skip
    assert code == 0, stderr
    results = read_json(tmp_path / "r" / "results.json")
    assert "drop_last: true" in (tmp_path / "r" / "config.yaml").read_text()
    ckpt = torch.load(tmp_path / "r" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 2 * 3 and results["epochs"] == 2
    assert not any("_orig_mod" in k for k in ckpt["state_dict"])


def test_drop_last_without_a_full_batch_is_refused(tmp_path, main_in_process):
    code, _, stderr = main_in_process(*QUIET, "speed.compile=true", "data.n_train=20", "data.batch_size=32",
                                      "logger=none", "hydra.run.dir=r")  # fmt: skip
    assert code != 0
    for part in ("data.drop_last=true", "data.batch_size=32", "20 training examples"):
        assert part in stderr
