"""Ensembles (``ensemble.size=N``): member k is the single run with seed + k, trained side by side."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import ON_CPU, QUIET, REPO, read_json, run_cli
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from benign_lightning.config import validate
from benign_lightning.models import build_model
from benign_lightning.models.ensemble import StackedModels
from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.results import load_model
from benign_lightning.run.job import run

# toy-MNIST, small: the §3.1 stop at zero training error (after 2 epochs), so members stop at
# different epochs; an evaluation attack with random starts and restarts, so per-member seeds count.
# (Clean labels: with eta = 0.1 no member reaches zero training error within 15 epochs here.)
# Members are compared bit for bit with their single runs: on the CPU.
TINY = [*QUIET, *ON_CPU, "data.n_train=256", "data.n_test=120", "+model.kwargs.width=64",
        "trainer.max_epochs=10", "trainer.min_epochs=2", "eta=0", "attack=linf_strong", "attack.steps=10",
        "attack.restarts=2", "logger=none"]  # fmt: skip


def composed(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_module("benign_lightning.conf", version_base="1.3"):
        return compose("config", overrides=list(overrides))


def _members(seed: int, n: int = 3, width: int = 32):
    out = []
    for k in range(n):
        torch.manual_seed(seed + k)
        out.append(build_model("mlp", 2, (1, 28, 28), width=width, depth=2))
    return out


@pytest.mark.parametrize(
    "optimizer",
    [lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-4),
     lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=1e-4)],
    ids=["sgd_momentum_wd", "adam"],
)  # fmt: skip
@pytest.mark.parametrize("vmapped", [True, False], ids=["vmapped", "in_turn"])
def test_one_optimizer_over_stacked_members_trains_each_as_alone(optimizer, vmapped):
    """SGD with momentum and weight decay (and Adam) update each element from its own gradient and
    state: five steps on the stacked members equal five steps of each member alone, whichever way
    the members run (vmapped: the GPU's way)."""
    alone, together = _members(0), StackedModels(_members(0), vmapped=vmapped)
    opt_alone = [optimizer(m.parameters()) for m in alone]
    opt_together = optimizer(together.parameters())
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        x = torch.rand(3, 16, 1, 28, 28, generator=g)
        y = torch.randint(0, 2, (3, 16), generator=g)
        for k, (model, opt) in enumerate(zip(alone, opt_alone, strict=True)):
            opt.zero_grad()
            F.cross_entropy(model(x[k]), y[k]).backward()
            opt.step()
        opt_together.zero_grad()
        losses = F.cross_entropy(together(x).flatten(0, 1), y.flatten(), reduction="none").view(3, 16).mean(1)
        losses.sum().backward()
        opt_together.step()
    for k, model in enumerate(alone):
        for name, value in model.state_dict().items():
            torch.testing.assert_close(together.member_state(k)[name], value, rtol=1e-5, atol=1e-6)


def test_member_rows_answer_like_their_members_both_ways():
    """Rows of any members in any order: the padded vmapped call (the GPU path) and the
    member-by-member one (the CPU path) give each row its own member's logits and input gradient,
    and so do members' blocks."""
    members = _members(3)
    stacked = StackedModels(members)
    x = torch.rand(9, 1, 28, 28, requires_grad=True)
    owner = torch.tensor([2, 0, 2, 1, 0, 2, 2, 0, 1])
    expected = torch.cat([members[int(m)](x[i : i + 1]) for i, m in enumerate(owner)])
    (grad_expected,) = torch.autograd.grad(expected.sum(), x)
    for vmapped in (True, False):
        stacked.vmapped = vmapped
        rows = stacked.rows(owner)
        logits = rows(x)
        torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-6)
        (grad,) = torch.autograd.grad(logits.sum(), x)
        torch.testing.assert_close(grad, grad_expected, rtol=1e-5, atol=1e-6)
        keep = owner != 2
        narrowed = rows.select_rows(keep)
        torch.testing.assert_close(narrowed(x[keep]), expected[keep], rtol=1e-5, atol=1e-6)
        blocks = stacked.blocks()(x[:6])  # members 0, 1, 2 on rows 0-1, 2-3, 4-5
        expected_blocks = torch.cat([members[k](x[2 * k : 2 * k + 2]) for k in range(3)])
        torch.testing.assert_close(blocks, expected_blocks, rtol=1e-5, atol=1e-6)


def _assert_member_is_its_run(member_dir, single_dir) -> None:
    """Run in turn (``ensemble.vmap=false``, a CPU's way for all but small models), a member is its
    single run bit for bit: noise, weights, training curve, memorization record and every number of
    results.json."""
    member, single = read_json(member_dir / "results.json"), read_json(single_dir / "results.json")
    for name in ("noise.npz", "memorization.npz", "predictions.npz"):
        a, b = np.load(member_dir / name), np.load(single_dir / name)
        assert a.files == b.files, name
        for key in b.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}:{key}")
    ours, theirs = load_model(member_dir).state_dict(), load_model(single_dir).state_dict()
    assert all(torch.equal(ours[name], value) for name, value in theirs.items())
    assert {k for k in single if member.get(k) != single[k]} <= {"wall_s"}
    assert member["ensemble"]["member"] == member["seed"] - 5


@pytest.mark.parametrize("method", ["natural", "at"])
def test_member_k_is_the_single_run_with_seed_plus_k(method, tmp_path):
    """Same noise, same batches and attack starts (the weights after training), same stop epoch and
    the same results.json numbers as the single runs with seeds 5, 6 and 7."""
    extra = ["method=at", "train_attack.steps=3", "eps=0.1", "trainer.max_epochs=3"] if method == "at" else []
    job = run(composed(*TINY, *extra, "seed=5", "ensemble.size=3", "ensemble.vmap=false"), tmp_path / "job")
    assert job["status"] == "ensemble" and job["seeds"] == [5, 6, 7]
    epochs = set()
    for k in range(3):
        single_dir = tmp_path / f"single_{k}"
        run(composed(*TINY, *extra, f"seed={5 + k}"), single_dir)
        _assert_member_is_its_run(tmp_path / "job" / f"member_{k}", single_dir)
        epochs.add(read_json(single_dir / "results.json")["epochs"])
    if method == "natural":
        assert len(epochs) > 1, "members should stop at different epochs here"


def test_vmapped_members_match_their_single_runs_to_float_tolerance(tmp_path):
    """``ensemble.vmap=true`` (the GPU's way, here on the CPU): a vmapped matmul rounds differently,
    so after a short AT run the weights agree to float tolerance and the errors to a point or two."""
    extra = ["method=at", "train_attack.steps=3", "eps=0.1", "trainer.max_epochs=2"]
    run(composed(*TINY, *extra, "seed=5", "ensemble.size=2", "ensemble.vmap=true"), tmp_path / "job")
    run(composed(*TINY, *extra, "seed=6"), tmp_path / "single")
    member_dir, single_dir = tmp_path / "job" / "member_1", tmp_path / "single"
    member, single = read_json(member_dir / "results.json"), read_json(single_dir / "results.json")
    ours, theirs = load_model(member_dir).state_dict(), load_model(single_dir).state_dict()
    for name, value in theirs.items():
        torch.testing.assert_close(ours[name], value, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(member["train_loss_by_epoch"], single["train_loss_by_epoch"], rtol=1e-4)
    assert member["epochs"] == single["epochs"]
    assert member["natural_err"] == pytest.approx(single["natural_err"], abs=2 / 120)
    assert member["adv_err"] == pytest.approx(single["adv_err"], abs=3 / 120)


def test_bad_ensemble_settings_are_refused_before_training():
    """A model with BatchNorm, a method without an ensemble form, DDP: a clear error, no compute."""
    with pytest.raises(ConfigError, match=r"arch=resnet18: it has BatchNorm2d layers.*vmap"):
        validate(composed("data=cifar10", "ensemble.size=2"), check_data=False)
    with pytest.raises(ConfigError, match="members can be trained with at, natural, trades"):
        validate(composed("+experiment=circles", "method=nearest_neighbor", "ensemble.size=2"),
                 check_data=False)  # fmt: skip
    with pytest.raises(ConfigError, match="trainer.devices=2.*members fill one device"):
        validate(composed("trainer=ddp_cpu", "ensemble.size=2"), check_data=False)
    with pytest.raises(ConfigError, match="ensemble.size=0: must be an integer >= 1"):
        validate(composed("ensemble.size=0"), check_data=False)


def test_three_member_job_through_the_cli_is_read_as_three_seeds_and_resumes_after_a_kill(tmp_path):
    """Killed after its first checkpoint, the job reruns from it: every member resumes and ends as in
    an uninterrupted job; ``aggregate`` reads the members as three seeds."""
    common = [*TINY, "method=at", "train_attack.steps=3", "eps=0.1", "eta=0.1", "data.n_train=1024",
              "trainer.max_epochs=4", "trainer.min_epochs=4", "ensemble.size=3"]  # fmt: skip
    folders = ["hydra.sweep.dir=sweep", "hydra.sweep.subdir=0_job"]
    cmd = [sys.executable, "-m", "benign_lightning", "-m", *common, *folders]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob("sweep/0_*/checkpoints/last.ckpt")) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert list(tmp_path.glob("sweep/0_*/checkpoints/last.ckpt")), proc.stderr.read()[-3000:]
    (job,) = tmp_path.glob("sweep/0_*")
    assert not (job / "results.json").exists()  # killed before the end
    again = run_cli("-m", *common, *folders, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    straight = run_cli("-m", *common, "hydra.sweep.dir=straight", folders[1], cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr[-3000:]
    for k in range(3):
        resumed = read_json(job / f"member_{k}" / "results.json")
        direct = read_json(tmp_path / "straight" / job.name / f"member_{k}" / "results.json")
        assert resumed["resumed"] and resumed["start_epoch"] >= 1 and not direct["resumed"]
        for key in ("natural_err", "adv_err_by_eps", "train_loss_by_epoch", "epochs", "noisy_fit"):
            assert resumed[key] == direct[key], key

    out = subprocess.run([sys.executable, "-m", "benign_lightning.aggregate", str(tmp_path / "sweep")],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    with open(tmp_path / "sweep" / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["seed"] for r in rows) == ["0", "1", "2"]
    assert all(r["status"] == "complete" and r["job"].endswith(f"member_{r['seed']}") for r in rows)


def test_memorization_estimate_scores_mislabelled_points_near_one_and_typical_points_near_zero(tmp_path):
    """toy-MNIST with 10% flipped labels, 8 members on their own 70%: a flipped point is unique (no
    other point near it has its label), so a member fits it only when it trained on it (mem near 1);
    a clean point is one of hundreds of noisy copies of its class's digit (mem near 0). Figure 5
    draws against a run on the same data and noise."""
    from benign_lightning.analysis import influence

    cfg = composed("+experiment=memorization_toy", *QUIET, "ensemble.size=8", "data.n_train=400",
                   "data.n_test=200", "+model.kwargs.width=64", "logger=none")  # fmt: skip
    job = run(cfg, tmp_path / "job")
    scores = np.load(tmp_path / "job" / "memorization_scores.npz")
    mem, corrupted, known = scores["mem"], scores["corrupted"], np.isfinite(scores["mem"])
    assert corrupted.sum() == 40 and job["memorization_scores"]["models"] == 8
    assert np.median(mem[known & corrupted]) > 0.8 and np.median(mem[known & ~corrupted]) < 0.05
    # Every member held out its own rows: n_in + n_out = 8 for every point.
    np.testing.assert_array_equal(scores["n_in"] + scores["n_out"], 8)
    noise = [np.load(tmp_path / "job" / f"member_{k}" / "noise.npz") for k in range(8)]
    assert all(np.array_equal(n["noisy_labels"], noise[0]["noisy_labels"]) for n in noise)
    assert len({n["heldout"].tobytes() for n in noise}) == 8

    other = run(composed(*QUIET, "data.n_train=400", "data.n_test=200", "+model.kwargs.width=64",
                         "trainer.max_epochs=2", "trainer.min_epochs=null", "data_seed=0", "seed=3",
                         "attack=linf", "attack.steps=2", "logger=none"), tmp_path / "other")  # fmt: skip
    summary = influence.write(tmp_path / "job", robust=tmp_path / "other")
    assert summary["n_robust_unfit"] <= other["n_train_errors"]
    assert (tmp_path / "job" / "figures" / "figure5.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="its labels differ"):
        run(composed(*QUIET, "data.n_train=400", "data.n_test=200", "+model.kwargs.width=64",
                     "trainer.max_epochs=1", "trainer.min_epochs=null", "seed=3", "attack=linf",
                     "attack.steps=2", "logger=none"), tmp_path / "other_noise")  # fmt: skip
        influence.write(tmp_path / "job", robust=tmp_path / "other_noise")


def test_ensemble_bench_script_times_both_sides_and_compares_their_numbers(tmp_path):
    """``scripts/ensemble_bench.py`` at toy size: both sides run, every member's numbers are its
    single run's."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import ensemble_bench
    finally:
        sys.path.pop(0)
    out = tmp_path / "bench.json"
    tiny = ["data.n_train=128", "data.n_test=40", "+model.kwargs.width=32", "trainer.max_epochs=2",
            "trainer.min_epochs=null", "attack=linf", "attack.steps=3"]  # fmt: skip
    argv = ["--members", "2", "--repeats", "1", "--json", str(out)]
    assert ensemble_bench.main(argv + [a for o in tiny for a in ("--override", o)]) == 0
    figures = read_json(out)
    assert figures["members"] == 2 and len(figures["ensemble_s"]) == len(figures["singles_s"]) == 1
    assert all(all(member.values()) for member in figures["members_equal_to_singles"])


def test_a_single_run_with_held_out_rows_predicts_them_too(tmp_path):
    """``data.holdout`` rows get ``heldout_pred``, so any run folder can join a memorization estimate."""
    from benign_lightning.analysis import influence

    run(composed(*QUIET, "data.n_train=200", "data.n_test=40", "+model.kwargs.width=32", "data.holdout=0.25",
                 "trainer.max_epochs=1", "trainer.min_epochs=null", "attack=linf", "attack.steps=2",
                 "logger=none"), tmp_path / "r")  # fmt: skip
    arrays, noise = np.load(tmp_path / "r" / "predictions.npz"), np.load(tmp_path / "r" / "noise.npz")
    assert len(arrays["heldout_pred"]) == int(noise["heldout"].sum()) == 50
    member = influence.read_member(tmp_path / "r")
    assert member.in_subset.sum() == 150 and len(member.train_correct) == 200
