"""GPU paths that this CPU machine cannot run, tested by their logic: what evaluation does to the
numerics flags, where collectives put their tensors, what the config refuses for CUDA. The runs
themselves are checked by ``scripts/gpu_check.sh`` on the first GPU at hand."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from benign_lightning.attacks.spec import AttackSpec
from benign_lightning.config import _check_deterministic, resolved
from benign_lightning.data import ToyMNISTDataModule
from benign_lightning.data.base import Split
from benign_lightning.evaluation.evaluate import evaluate, predict_logits
from benign_lightning.plumbing.errors import ConfigError


def _flags() -> tuple:
    return (torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)  # fmt: skip


class FlagRecorder(nn.Module):
    """A linear classifier that records the numerics flags each time it is called."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(784, 10)
        self.seen: set[tuple] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.add(_flags())
        return self.linear(x.flatten(1))


@pytest.fixture
def fast_training_flags():
    """What a GPU run has on while it trains: TF32 (run.set_float32_precision, cuDNN's default) and
    cuDNN's autotuner (speed=fast)."""
    before = _flags()
    torch.set_float32_matmul_precision("high")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    training = _flags()
    yield training
    torch.set_float32_matmul_precision(before[0])
    cudnn = torch.backends.cudnn
    torch.backends.cuda.matmul.allow_tf32, cudnn.allow_tf32, cudnn.benchmark = before[1:]


def test_evaluation_runs_without_tf32_or_autotuning_and_restores_them(fast_training_flags):
    data = ToyMNISTDataModule(eta=0.2, data_seed=0, n_train=64, n_test=32)
    data.setup()
    model = FlagRecorder()
    evaluate(model, train=data.train, clean_train_labels=data.clean_train_labels, test=data.test, eps=0.1,
             eval_eps=[0.05], attack=AttackSpec(name="pgd", norm="linf", steps=2), batch_size=16,
             checks="cheap")  # fmt: skip
    assert model.seen == {("highest", False, False, False)}  # every forward: fp32, no autotuner
    assert _flags() == fast_training_flags  # training's settings are back


def test_evaluation_is_exact_where_torchs_newer_tf32_api_is_in_use():
    """Once code has set torch.backends.<backend>.fp32_precision, reading the legacy TF32 flags raises;
    evaluation then sets and restores the newer flags ("ieee": exact fp32)."""
    backends = torch.backends
    saved = (backends.cuda.matmul.fp32_precision, backends.cudnn.conv.fp32_precision,
             backends.cudnn.rnn.fp32_precision)  # fmt: skip
    backends.cuda.matmul.fp32_precision = backends.cudnn.conv.fp32_precision = "tf32"
    seen = []

    class NewFlags(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(784, 10)

        def forward(self, x):
            seen.append((backends.cuda.matmul.fp32_precision, backends.cudnn.conv.fp32_precision))
            return self.linear(x.flatten(1))

    try:
        with pytest.raises(RuntimeError, match="mix of the legacy and new APIs"):
            torch.get_float32_matmul_precision()
        data = ToyMNISTDataModule(n_train=32, n_test=16)
        data.setup()
        evaluate(NewFlags(), train=data.train, clean_train_labels=data.clean_train_labels, test=data.test,
                 eps=0.1, eval_eps=[0.1], attack=AttackSpec(name="pgd", norm="linf", steps=2), batch_size=8,
                 checks="none")  # fmt: skip
        assert set(seen) == {("ieee", "ieee")}
        assert (backends.cuda.matmul.fp32_precision, backends.cudnn.conv.fp32_precision) == ("tf32", "tf32")
    finally:
        matmul, conv, rnn = saved
        backends.cuda.matmul.fp32_precision, backends.cudnn.conv.fp32_precision = matmul, conv
        backends.cudnn.rnn.fp32_precision = rnn


def test_the_deterministic_refusal_follows_where_the_run_goes(monkeypatch):
    def values(**trainer):
        return resolved(OmegaConf.create({"trainer": trainer}))["trainer"]

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(ConfigError, match="trainer.deterministic=true on CUDA"):
        _check_deterministic(values(accelerator="auto", deterministic=True))  # auto takes the GPU
    _check_deterministic(values(accelerator="auto", deterministic="warn"))  # warn_only: allowed
    _check_deterministic(values(accelerator="cpu", deterministic=True))  # CPU kernels are deterministic
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _check_deterministic(values(accelerator="auto", deterministic=True))


def _gather_logits(rank: int, world: int, init_file: str, out_dir: str) -> None:
    """One rank of a gloo group: the logits of a 2-row split, sharded over ``world`` ranks."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        model = nn.Linear(4, 3)
        split = Split(torch.rand(2, 4, generator=torch.Generator().manual_seed(1)), torch.tensor([0, 1]))
        torch.save(predict_logits(model, split, batch_size=8), f"{out_dir}/{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_a_rank_with_no_rows_gathers_the_others_logits(tmp_path):
    """2 test rows on 3 ranks: rank 2's shard is empty, and its logits were never computed; every
    rank must still get the 2 × 3 logits (its padding once had another shape than the others')."""
    import torch.multiprocessing as mp

    mp.spawn(_gather_logits, args=(3, str(tmp_path / "init"), str(tmp_path)), nprocs=3, join=True)
    torch.manual_seed(0)
    expected = nn.Linear(4, 3)(torch.rand(2, 4, generator=torch.Generator().manual_seed(1))).detach()
    for rank in range(3):
        torch.testing.assert_close(torch.load(tmp_path / f"{rank}.pt"), expected)


def test_evaluation_gathers_on_the_models_device(monkeypatch):
    """The DataLoader path keeps its splits on the host; NCCL takes CUDA tensors only, so every
    gather of evaluation runs on the model's device."""
    import benign_lightning.evaluation.evaluate as evaluation

    devices = []
    gather = evaluation.gather_rows

    def recording(local, n, device=None):
        devices.append(device)
        return gather(local, n, device)

    monkeypatch.setattr(evaluation, "gather_rows", recording)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    data = ToyMNISTDataModule(n_train=32, n_test=16)
    data.setup()
    correct = evaluation.predict_all(model, data.test, 8) == data.test.y
    evaluation.predict_logits(model, data.test, 8)
    evaluation.adversarially_correct_all(model, data.test, natural_correct=correct, eps=0.1,
                                         attack=AttackSpec(name="pgd", norm="linf", steps=2))  # fmt: skip
    assert devices == [evaluation.model_device(model)] * 3


def test_nccl_collectives_run_on_the_ranks_cuda_device(monkeypatch):
    """Under NCCL a gather runs on this rank's CUDA device whatever the model or the split says (a
    model left on the host by fit's teardown, the DataLoader path's host splits); gloo takes them
    where they are."""
    import torch.distributed as dist

    from benign_lightning.plumbing.distributed import collective_device

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 3)
    monkeypatch.setattr(dist, "get_backend", lambda *a: "nccl")
    assert collective_device(torch.device("cpu")) == torch.device("cuda", 3)
    monkeypatch.setattr(dist, "get_backend", lambda *a: "gloo")
    assert collective_device(torch.device("cpu")) == torch.device("cpu")


def test_the_model_goes_back_to_the_training_device_after_fit(tmp_path, monkeypatch):
    """Lightning's Strategy.teardown moves the model to the host when fit ends; run puts it back on
    the strategy's root device before evaluating (on a GPU: before NCCL's gathers)."""
    from types import SimpleNamespace

    import benign_lightning.run.job as run_module

    model = nn.Linear(3, 2)
    trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("meta")))
    run_module.back_on_device(model, trainer)
    assert next(model.parameters()).device.type == "meta"

    calls = []
    monkeypatch.setattr(run_module, "back_on_device", lambda method, t: calls.append(t.current_epoch))
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="benign_lightning.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "data.n_train=64", "data.n_test=16", "trainer.max_epochs=1", "trainer.min_epochs=null",
            "attack.steps=1", "logger=none", "attack.checks=none", "trainer.enable_progress_bar=false",
        ])  # fmt: skip
    GlobalHydra.instance().clear()
    run_module.run(cfg, tmp_path / "r")
    assert calls == [1]  # once, after the one epoch of fit
