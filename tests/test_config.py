"""The config tree: every experiment and group option composes, recipes follow the data, bad values
are refused by name before anything runs, and Python and the CLI train with the same settings."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest
import torch
from conftest import QUIET
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import benign_lightning
from benign_lightning.config import check_schema, recipe_summary, resolved, validate
from benign_lightning.plumbing.errors import ConfigError

CONF = resources.files(benign_lightning) / "conf"
TINY = ["data.n_train=200", "data.n_test=50", "attack.steps=2", "trainer.max_epochs=3",
        "trainer.min_epochs=null"]  # fmt: skip


def options(group: str) -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in (CONF / group).iterdir() if p.name.endswith(".yaml"))


def composed(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_module("benign_lightning.conf", version_base="1.3"):
        return compose("config", overrides=list(overrides))


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_composes_and_validates(experiment):
    cfg = composed(f"+experiment={experiment}")
    validate(cfg, check_data=False)
    assert cfg.name == experiment and cfg.recipe.name in options("recipe")


GROUPS = ("data", "model", "method", "attack", "optimizer", "scheduler", "trainer", "logger", "recipe",
          "debug", "speed")  # fmt: skip
# Options that need another choice to make sense: method=fine2coarse needs a fine2coarse label set.
NEEDS_MORE = {
    ("method", "fine2coarse"): "method=fine2coarse needs data.label_set=fine2coarse",
    # The default data, unclipped toy-MNIST, has no [0, 1] box (AutoAttack's only one).
    ("attack", "autoattack"): "AutoAttack works in pixel space",
    # The closed-form classifiers are exact on their own data only (the default is toy-MNIST).
    ("method", "nearest_neighbor"): "exact adversarial error is for points in the plane",
    ("method", "union_of_intervals"): "method=union_of_intervals classifies data=intervals only",
    ("method", "parity"): "method=parity classifies data=intervals only",
}


@pytest.mark.parametrize(
    "group,option",
    [(g, o) for g in GROUPS for o in options(g)],
)  # fmt: skip
def test_every_group_option_composes(group, option):
    cfg = composed(f"{group}={option}")
    resolved(cfg)  # every interpolation resolves
    if (group, option) in NEEDS_MORE:
        with pytest.raises(ConfigError, match=NEEDS_MORE[group, option]):
            validate(cfg, check_data=False)
    else:
        validate(cfg, check_data=False)


def test_the_root_holds_no_recipe_and_data_brings_its_own():
    root = OmegaConf.load(CONF / "config.yaml")
    assert OmegaConf.is_missing(root, "arch") and root.eps == 0.0 and root.eta == 0.0 and "recipe" not in root
    cifar = composed("data=cifar10", "arch=resnet18")
    assert cifar.recipe.name == "cifar10" and cifar.optimizer.lr == 0.1
    assert cifar.optimizer.weight_decay == 5e-4 and cifar.optimizer.momentum == 0.9
    assert list(cifar.scheduler.milestones) == [100, 150] and cifar.trainer.max_epochs == 200
    assert cifar.eps == pytest.approx(8 / 255) and len(cifar.attack.eval_eps) == 5
    assert not cifar.stop_at_zero_train_err and cifar.trainer.min_epochs is None
    assert "recipe cifar10" in recipe_summary(cifar) and "resnet18" in recipe_summary(cifar)
    # The default run is still Figure 2a's.
    toy = composed()
    assert (toy.recipe.name, toy.arch, toy.eta, toy.optimizer.lr) == ("toy_mnist", "mlp", 0.1, 0.05)
    assert toy.stop_at_zero_train_err and toy.trainer.min_epochs == 20 and toy.attack.steps == 100


def test_another_optimizer_or_schedule_starts_from_its_own_defaults():
    adam = composed("data=cifar10", "optimizer=adam", "scheduler=cosine")
    assert adam.optimizer._target_ == "torch.optim.Adam" and adam.optimizer.lr == 1e-3
    assert "momentum" not in adam.optimizer and "milestones" not in adam.scheduler
    assert adam.scheduler.T_max == 200  # the recipe's epochs
    assert composed("data=cifar10", "optimizer.lr=0.02").optimizer.lr == 0.02


# (overrides, what the one error line says; it names the key and the value)
BAD_VALUES = [
    (["eta=1.5"], "eta=1.5: must be a number in [0, 1]"),
    (["seed=abc"], "seed=abc: must be an integer >= 0"),
    (["seed=1.5"], "seed=1.5: must be an integer >= 0"),
    (["trainer.max_epochs=-5"], "trainer.max_epochs=-5: must be an integer >= 1, or one of -1"),
    (["attack.steps=0"], "attack.steps=0: must be an integer >= 1"),
    (["attack.restarts=0"], "attack.restarts=0: must be an integer >= 1"),
    (["attack.norm=l1"], "attack.norm=l1: must be one of linf, l2"),
    (["eps=-0.1"], "eps=-0.1: must be a number >= 0"),
    (["arch=resnet9000"], "arch=resnet9000: must be one of densenet121, mlp, mnist_cnn"),
    (["data.noise_mode=bogus"], "data.noise_mode=bogus: must be one of uniform, symmetric"),
    (["data.sigma2=-1"], "data.sigma2=-1: must be a number >= 0"),
    (["data.holdout=1.5"], "data.holdout=1.5: must be a fraction in [0, 1) or a whole number"),
    (["data.batch_size=0"], "data.batch_size=0: must be an integer >= 1"),
    (["data.train_subset=0"], "data.train_subset=0: must be null, or an integer >= 1"),
    (["memorization=maybe"], "memorization=maybe: must be one of true, false, auto"),
    (["resume=yes"], "resume=yes: must be one of true, false"),
    (["optimizer.lr=0"], "optimizer.lr=0: must be a number > 0"),
    (["train_attack.step_size=-1"], "train_attack.step_size=-1: must be null, or a number > 0"),
    (["trainer.precision=8"], "trainer.precision=8: must be one of 32-true"),
    # Accepted once, then a crash at evaluation (bf16 weights, fp32 inputs; reproduced on a CPU).
    (["trainer.precision=bf16-true"], "trainer.precision=bf16-true: must be one of 32-true, 32, 16-mixed, "
     "bf16-mixed (fp32 weights"),
    (["trainer.precision=16-true"], "trainer.precision=16-true: must be one of 32-true"),
    (["trainer.precision=64-true"], "trainer.precision=64-true: must be one of 32-true"),
    (["trainer=ddp_cpu", "data.batch_size=127"], "data.batch_size=127 is the global batch, split evenly "
     "across the 2 DDP ranks (trainer.devices x trainer.num_nodes); it must divide by 2: use 126 or 128"),
    (["trainer.accelerator=gpu", "trainer.deterministic=true"], "trainer.deterministic=true on CUDA: PyTorch "
     "has no deterministic CUDA kernel for nll_loss"),
    (["scheduler=cosine", "trainer.max_epochs=-1"], "scheduler.T_max=-1 (from ${trainer.max_epochs})"),
    (["early_stopping.enabled=true"], "early_stopping.enabled=true needs a held-out split: set data.holdout"),
    (["optimizer=adam", "+optimizer.momentum=0.9"], "optimizer.momentum=0.9: torch.optim.Adam takes no such"),
    (["scheduler=cosine", "+scheduler.milestones=[5]"], "scheduler.milestones=[5]: torch.optim.lr_scheduler"),
    (["data=cifar100", "data.label_set=fine2coarse"], "data.label_set=fine2coarse trains on fine labels"),
    (["+experiment=mnist_noise", "data.data_dir=nowhere"], "MNIST not found"),
    # Keys and options the config does not have, and sweeps: all refused before Hydra starts a job.
    (["data.sigma=0.3"], "data.sigma=0.3: the config has no key data.sigma; a new key is added with +data."),
    (["+eta=1"], "+eta=1: eta is already in the config; set it without the +"),
    (["optimizer=rmsprop"], "optimizer=rmsprop: must be one of adam, adamw, sgd"),
    (["-m", "eta=0,1.5"], "eta=1.5: must be a number in [0, 1]"),
    (["-m", "seed=0,1", "optimizer=sgd,rmsprop"], "optimizer=rmsprop: must be one of adam, adamw, sgd"),
    (["eta=[0"], "eta=[0: cannot be parsed (no viable alternative at input '[0')"),
    (["data.cv_folds=1"], "data.cv_folds=1: must be null, or an integer >= 2"),
    (["trainer=ddp", "trainer.accelerator=cpu"], "trainer.sync_batchnorm=true with trainer.accelerator=cpu: "
     "torch's SyncBatchNorm runs on GPUs only; use trainer=ddp_cpu"),
    (["curves.attack.batch_size=0"], "curves.attack.batch_size=0: must be null, or an integer >= 1"),
    (["data.cv_folds=4", "data.cv_fold=4"], "data.cv_fold=4 is not a fold of data.cv_folds=4: choose 0..3"),
    (["data.cv_fold=1"], "data.cv_fold=1 needs data.cv_folds"),
    (["data.cv_folds=4", "data.holdout=0.1"], "data.holdout=0.1 with data.cv_folds=4: the held-out fold"),
    (["data.cv_folds=4", "ensemble.size=2"], "ensemble.size=2 with data.cv_folds=4: a cross-validation"),
    (["small_loss_epoch=6", "trainer.max_epochs=5"], "small_loss_epoch=6 is after the last epoch"),
    (["small_loss_epoch=1", "memorization=false"], "small_loss_epoch=1 is recorded by the memorization"),
    (["data.noise_mode=human"], "ToyMNISTDataModule has no human label noise"),
    (["data=cifar100", "data.label_set=fine2coarse", "method=fine2coarse", "data.cv_folds=4"],
     "data.cv_folds with data.label_set=fine2coarse"),
]


@pytest.mark.parametrize("overrides,message", BAD_VALUES)
def test_bad_values_are_refused_by_name_before_anything_runs(tmp_path, overrides, message, main_in_process):
    code, stdout, stderr = main_in_process(*overrides, *QUIET, "hydra.run.dir=r")
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1, stderr
    assert message in errors[0]
    assert "Traceback" not in stderr
    run_dir = tmp_path / "r"
    for written in ("results.json", "config.yaml", "checkpoints", ".hydra", "noise.npz", "env.json"):
        assert not (run_dir / written).exists(), written
    assert "recipe" not in stdout  # refused before the run started
    if "data.data_dir=nowhere" in overrides:
        assert str(tmp_path / "nowhere" / "MNIST" / "raw") in errors[0]


def test_a_diverging_run_is_stopped_with_a_clear_error(tmp_path, main_in_process):
    code, _, stderr = main_in_process("optimizer.lr=1e6", "data.n_train=500", "trainer.max_epochs=2", *QUIET,
                                      "hydra.run.dir=r")  # fmt: skip
    assert code == 2 and "training diverged: train/loss is" in stderr and "lower optimizer.lr" in stderr
    assert not (tmp_path / "r" / "results.json").exists()


def test_the_schema_is_what_the_cli_enforces():
    """The table itself: a good composed config passes it; one bad value anywhere fails it."""
    values = resolved(composed())
    check_schema(values)
    values["attack"]["eval_eps"] = [0.1, -0.2]
    with pytest.raises(ConfigError, match=r"attack.eval_eps=\[0.1,-0.2\]: must be a non-empty list of num"):
        check_schema(values)


def _optimizer_record(run_dir: Path) -> tuple[list[dict], dict]:
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    param_groups = ckpt["optimizer_states"][0]["param_groups"]
    groups = [{k: v for k, v in g.items() if k != "params"} for g in param_groups]
    return groups, ckpt["lr_schedulers"][0]


def test_python_and_the_cli_train_with_the_same_hyperparameters(tmp_path, main_in_process):
    from benign_lightning.run.job import run

    overrides = [*TINY, "logger=none", "trainer.max_epochs=1"]
    code, _, stderr = main_in_process(*overrides, *QUIET, "hydra.run.dir=cli")
    assert code == 0, stderr
    run(composed(*overrides, *QUIET), tmp_path / "python")
    cli, python = _optimizer_record(tmp_path / "cli"), _optimizer_record(tmp_path / "python")
    assert cli == python
    groups, scheduler = cli
    # The toy recipe's values (recipe/toy_mnist.yaml), through optimizer/sgd and scheduler/multistep.
    assert (groups[0]["lr"], groups[0]["momentum"], groups[0]["weight_decay"]) == (0.05, 0.9, 0.0)
    assert dict(scheduler["milestones"]) == {30: 1, 60: 1} and scheduler["gamma"] == 0.1


def _logged_lrs(run_dir: Path, column: str) -> list[float]:
    with open(run_dir / "csv" / "metrics.csv") as f:
        return [float(row[column]) for row in csv.DictReader(f) if row.get(column)]


def test_scheduler_and_optimizer_choices_change_the_learning_rates_lightning_logs(tmp_path, main_in_process):
    runs = {"sgd": [], "cosine": ["scheduler=cosine"], "adam": ["optimizer=adam"],
            "onecycle": ["scheduler=onecycle"]}  # fmt: skip
    for name, extra in runs.items():
        code, _, stderr = main_in_process(*TINY, *extra, *QUIET, f"hydra.run.dir={name}")
        assert code == 0, stderr
    assert _logged_lrs(tmp_path / "sgd", "lr-SGD") == [0.05, 0.05, 0.05]  # milestones 30, 60 not reached
    assert _logged_lrs(tmp_path / "cosine", "lr-SGD") == pytest.approx([0.05, 0.0375, 0.0125])
    assert _logged_lrs(tmp_path / "adam", "lr-Adam") == [0.001, 0.001, 0.001]
    onecycle = _logged_lrs(tmp_path / "onecycle", "lr-SGD")
    assert len(onecycle) == 3 and onecycle[0] < onecycle[1]  # the warm-up towards max_lr = 0.05


def test_debug_configs_run(tmp_path, main_in_process):
    code, stdout, stderr = main_in_process("debug=default", *QUIET, "hydra.run.dir=d")
    assert code == 0, stderr
    results = benign_lightning.read_results(tmp_path / "d")
    assert results["epochs"] == 1 and results["n_train"] == 256 and results["n_test"] == 128
    assert not (tmp_path / "d" / "csv").exists()  # no logger
    code, stdout, stderr = main_in_process("debug=profiler", *QUIET, "hydra.run.dir=p")
    assert code == 0, stderr
    assert "FIT Profiler Report" in stdout + stderr


def test_a_sweep_jobs_folder_name_fits_the_filesystem():
    """A job folder is named by its overrides; past 200 bytes the head is kept with a digest of the
    whole (a filesystem refuses names over 255 bytes, and the job would stop before it runs)."""
    from benign_lightning import short_name

    assert short_name("eta=0.1,seed=2") == "eta=0.1,seed=2"
    long_a = ",".join(f"key{i}=value{i}" for i in range(40))
    long_b = long_a.replace("value39", "value40")
    assert len(short_name(long_a).encode()) <= 200 and short_name(long_a).startswith(long_a[:150])
    assert short_name(long_a) != short_name(long_b)


def test_the_curves_attack_takes_its_own_batch_or_the_evaluations():
    from benign_lightning.run.builders import curves_attack_spec

    assert curves_attack_spec(composed("curves.attack.batch_size=64")).batch_size == 64
    assert curves_attack_spec(composed("attack.batch_size=300")).batch_size == 300  # null: attack.batch_size
