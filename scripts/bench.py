"""Framework overhead: the same toy-MNIST job through ``benign_lightning.run.job.run`` and as a plain loop.

Both sides generate the same data (same seeds, same label flips), train the same MLP with the same
SGD settings and batch size for a fixed number of epochs, and then run the full 400-step l-inf PGD
at eps = 64/255 on the 1000 test points. The framework side is one ``run(cfg, run_dir)`` call into a
fresh temporary folder (config composed once with Hydra's compose API); the plain side is written
here with nothing but torch (data generation, training and attack are all timed).

Run it from the repository root:

    python scripts/bench.py                       # 20 epochs, 3 repeats, CPU
    python scripts/bench.py --epochs 2 --repeats 1
    python scripts/bench.py --device cuda --json bench.json

The repeats alternate which side goes first (F P, P F, F P, ...) so that warm-up and machine noise
hit both; the medians and the ratio of medians are reported, with every single time.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module
from omegaconf import DictConfig, OmegaConf
from torch import nn

from benign_lightning.data.noise import corrupt_labels
from benign_lightning.data.toy_mnist import sample_toy_mnist
from benign_lightning.models import build_model
from benign_lightning.run.job import run, set_float32_precision

TARGET_RATIO = 1.15
_QUIET_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20, help="training epochs on both sides (default 20)")
    p.add_argument("--repeats", type=int, default=3, help="framework/plain pairs to time (default 3)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where both sides run")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Hydra override for the framework side (repeatable), e.g. logger=none",
    )
    args = p.parse_args(argv)
    if args.epochs < 1 or args.repeats < 1:
        p.error("--epochs and --repeats must be >= 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda, but torch sees no CUDA device")
    return args


def compose_config(epochs: int, device: str, extra: list[str]) -> DictConfig:
    """The framework's config for this benchmark, composed as the CLI would compose it."""
    overrides = [
        f"trainer.max_epochs={epochs}",
        "stop_at_zero_train_err=false",
        "attack=paper_toy",  # the plain loop's attack: 400 steps of 0.01 from x, the cross-entropy
        "attack.early_stop=false",
        "attack.checks=none",  # the sanity checks are work the plain loop does not do
        "trainer.enable_progress_bar=false",
        f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
        *extra,
    ]
    with initialize_config_module(config_module="benign_lightning.conf", version_base="1.3"):
        return compose("config", overrides=overrides)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_framework(cfg: DictConfig) -> tuple[float, dict[str, Any]]:
    """Seconds of one ``run(cfg, run_dir)`` call into a fresh folder, and its results."""
    with tempfile.TemporaryDirectory(prefix="bench_framework_") as run_dir:  # fresh: no resume
        start = time.perf_counter()
        results = run(cfg, run_dir)
        elapsed = time.perf_counter() - start
    return elapsed, results


def linf_pgd(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int, step_size: float
) -> torch.Tensor:
    """Plain l-inf PGD from ``x`` (no random start): sign steps on the input gradient of the
    summed cross-entropy, projected onto the eps ball and [0, 1]."""
    lo, hi = (x - eps).clamp_min(0.0), (x + eps).clamp_max(1.0)
    x_adv = x.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(model(x_adv), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = torch.minimum(torch.maximum(x_adv.detach() + step_size * grad.sign(), lo), hi)
    return x_adv.detach()


def time_plain(cfg: DictConfig, epochs: int, device: torch.device) -> tuple[float, dict[str, Any]]:
    """Seconds of the plain job (data + training + attack), and its errors."""
    data, optim, schedule, attack = cfg.data, cfg.optimizer, cfg.scheduler, cfg.attack
    seed, data_seed = int(cfg.seed), int(cfg.data_seed)
    _sync(device)
    start = time.perf_counter()

    # Data: the seeds of ToyMNISTDataModule.load_arrays, the flips of its setup.
    x_train, y_clean = sample_toy_mnist(
        int(data.n_train), float(data.sigma2), np.random.SeedSequence([data_seed, 1]), bool(data.clip)
    )
    x_test, y_test = sample_toy_mnist(
        int(data.n_test), float(data.sigma2), np.random.SeedSequence([data_seed, 2]), bool(data.clip)
    )
    noise = corrupt_labels(y_clean.numpy(), eta=float(cfg.eta), mode="flip", num_classes=2, seed=data_seed)
    x_train, y_train = x_train.to(device), torch.from_numpy(noise.noisy_labels).to(device)
    x_test, y_test = x_test.to(device), y_test.long().to(device)

    # Training: plain SGD, shuffled each epoch.
    torch.manual_seed(seed)
    model = build_model("mlp", 2, (1, 28, 28)).to(device)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=float(optim.lr),
        momentum=float(optim.momentum),
        weight_decay=float(optim.weight_decay),
        nesterov=bool(optim.nesterov),
    )
    milestones, gamma = [int(m) for m in schedule.milestones], float(schedule.gamma)
    batch_size, n = int(data.batch_size), len(y_train)
    model.train()
    for epoch in range(epochs):
        for group in opt.param_groups:  # the framework's MultiStepLR, stepped once per epoch
            group["lr"] = float(optim.lr) * gamma ** sum(m <= epoch for m in milestones)
        # The per-epoch seed of the framework's EpochPermutation, so both sides see the same order.
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(n, generator=g).to(device)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    # Attack: every test point; a point counts as an adversarial error if it is misclassified
    # before or after the attack (as the framework counts it).
    model.eval()
    with torch.no_grad():
        natural_correct = model(x_test).argmax(1) == y_test
    x_adv = linf_pgd(
        model, x_test, y_test, eps=float(cfg.eps), steps=int(attack.steps), step_size=float(attack.step_size)
    )
    with torch.no_grad():
        adv_correct = natural_correct & (model(x_adv).argmax(1) == y_test)
    n_test = len(y_test)
    natural_err = (n_test - int(natural_correct.sum())) / n_test  # exact ratios of counts
    adv_err = (n_test - int(adv_correct.sum())) / n_test
    _sync(device)
    elapsed = time.perf_counter() - start
    return elapsed, {"natural_err": natural_err, "adv_err": adv_err}


def check_attack_config(cfg: DictConfig) -> None:
    """The plain loop implements one attack: l-inf, no random start, one restart, no early stop."""
    a = cfg.attack
    if a.norm != "linf" or a.random_start or a.restarts != 1 or a.early_stop or a.loss != "ce":
        raise SystemExit(f"bench.py's plain PGD needs an l-inf attack without extras, got {dict(a)}")
    if sorted({float(e) for e in a.eval_eps} | {float(cfg.eps)}) != [float(cfg.eps)]:
        raise SystemExit("bench.py expects one eps (attack.eval_eps == [eps]) so both sides attack once")
    if not math.isclose(float(cfg.eps), 64 / 255) or a.steps != 400 or not math.isclose(a.step_size, 0.01):
        print(f"note: attack is eps={cfg.eps}, steps={a.steps}, step_size={a.step_size} (not the usual one)")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table and return the figures."""
    args = parse_args(argv)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # Two known, harmless Lightning warnings that would otherwise interleave with the timings.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings("ignore", message=r"The number of training batches .* logging interval")
    device = torch.device(args.device)
    if device.type == "cuda":
        set_float32_precision()  # what the CLI does before every run; it applies to both sides
    cfg = compose_config(args.epochs, args.device, args.override)
    # run() sets this from cfg.flush_denormal; set it here too so the plain side never runs without.
    torch.set_flush_denormal(bool(cfg.flush_denormal))
    check_attack_config(cfg)

    times: dict[str, list[float]] = {"framework": [], "plain": []}
    errors: dict[str, dict[str, float]] = {}
    for r in range(args.repeats):
        order = ("framework", "plain") if r % 2 == 0 else ("plain", "framework")
        for side in order:
            if side == "framework":
                elapsed, res = time_framework(cfg)
                errors[side] = {"natural_err": res["natural_err"], "adv_err": res["adv_err"]}
                if res["epochs"] != args.epochs:
                    print(f"warning: the framework trained {res['epochs']} epochs, not {args.epochs}")
            else:
                elapsed, errors[side] = time_plain(cfg, args.epochs, device)
            times[side].append(elapsed)
            print(f"repeat {r + 1}/{args.repeats}  {side:<9}  {elapsed:8.2f} s", flush=True)

    med = {side: statistics.median(t) for side, t in times.items()}
    ratio = med["framework"] / med["plain"]
    figures: dict[str, Any] = {
        "epochs": args.epochs,
        "repeats": args.repeats,
        "device": args.device,
        "torch_num_threads": torch.get_num_threads(),
        "overrides": args.override,
        "times_s": times,
        "median_s": med,
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
        "errors": errors,
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    rows = [
        ("framework median", f"{med['framework']:.2f} s"),
        ("plain median", f"{med['plain']:.2f} s"),
        ("ratio framework/plain", f"{ratio:.3f}"),
        ("target", f"<= {TARGET_RATIO:.2f} ({'met' if ratio <= TARGET_RATIO else 'NOT met'})"),
        ("adv_err framework", f"{errors['framework']['adv_err']:.4f}"),
        ("adv_err plain", f"{errors['plain']['adv_err']:.4f}"),
        (
            "natural_err framework / plain",
            f"{errors['framework']['natural_err']:.4f} / {errors['plain']['natural_err']:.4f}",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    head = f"toy-MNIST, {args.epochs} epochs, {args.repeats} repeat(s), {args.device}"
    print("\n" + head + "\n" + "-" * len(head))
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures: {args.json}")
    return figures


if __name__ == "__main__":
    main()
