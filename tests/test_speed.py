"""speed=fast on the CPU (bf16 autocast exists there too): every method trains with it, the
convolution weights train in channels_last, evaluation stays fp32, and the results match fp32's
on a small problem up to bf16 noise."""

from __future__ import annotations

import pytest
import torch
from conftest import QUIET, make_cifar, make_idx_mnist, read_json

TINY = [*QUIET, "trainer.max_epochs=1", "data.batch_size=16", "attack.steps=2", "attack.checks=none",
        "logger=none", "train_attack.steps=2"]  # fmt: skip


@pytest.mark.parametrize("method", ["natural", "at", "trades"])
def test_every_method_trains_with_speed_fast(tmp_path, monkeypatch, main_in_process, method):
    make_idx_mnist(tmp_path / "data", n_train=64, n_test=20)
    monkeypatch.setenv("BENIGN_DATA_DIR", str(tmp_path / "data"))
    overrides = ["+experiment=mnist_robust_noise", f"method={method}", "speed=fast", *TINY, "hydra.run.dir=r"]
    code, _, stderr = main_in_process(*overrides)
    assert code == 0, stderr
    results = read_json(tmp_path / "r" / "results.json")
    assert results["method"] == method and 0 <= results["adv_err"] <= 1
    config = (tmp_path / "r" / "config.yaml").read_text()
    assert "precision: bf16-mixed" in config and "channels_last: true" in config
    ckpt = torch.load(tmp_path / "r" / "checkpoints" / "last.ckpt", weights_only=True)
    convs = [v for k, v in ckpt["state_dict"].items() if k.startswith("model.") and v.dim() == 4]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert all(w.dtype == torch.float32 for w in convs)  # bf16-mixed keeps fp32 weights


def test_fine2coarse_trains_with_speed_fast(tmp_path, monkeypatch, main_in_process):
    make_cifar(tmp_path / "data", "cifar100", n_per_file=8)
    monkeypatch.setenv("BENIGN_DATA_DIR", str(tmp_path / "data"))
    code, _, stderr = main_in_process("+experiment=fine2coarse_cifar100", "arch=mlp", "speed=fast", *TINY,
                                      "hydra.run.dir=r")  # fmt: skip
    assert code == 0, stderr
    assert read_json(tmp_path / "r" / "results.json")["method"] == "fine2coarse"


def test_speed_fast_matches_fp32_up_to_bf16_noise(tmp_path, main_in_process):
    common = [*QUIET, "data.n_train=1000", "data.n_test=300", "data.sigma2=0.3", "eta=0",
              "trainer.max_epochs=5", "trainer.min_epochs=null", "attack.steps=10", "logger=none"]
    for name, extra in (("fp32", []), ("fast", ["speed=fast"])):
        code, _, stderr = main_in_process(*common, *extra, f"hydra.run.dir={name}")
        assert code == 0, stderr
    fp32, fast = read_json(tmp_path / "fp32" / "results.json"), read_json(tmp_path / "fast" / "results.json")
    for key in ("natural_err", "train_err"):
        assert abs(fp32[key] - fast[key]) <= 0.05, (key, fp32[key], fast[key])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fused optimizer kernels are for CUDA here")
def test_speed_fast_uses_the_fused_optimizer_on_cuda():
    import functools

    from benign_lightning.methods import NaturalTraining
    from benign_lightning.models import build_model

    spec = dict(name="mnist_cnn", num_classes=10, in_shape=[1, 28, 28], mean=None, std=None)
    sgd = functools.partial(torch.optim.SGD, lr=0.1)
    method = NaturalTraining(build_model(**spec).cuda(), model_spec=spec, optimizer=sgd, scheduler=None,
                             fused_optimizer=True)  # fmt: skip
    assert method.configure_optimizers().defaults["fused"] is True
