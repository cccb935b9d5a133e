"""The Python half of scripts/gpu_check.sh: the TF32 on/off evaluation comparison, and the small
readers and writers the shell script calls (a run's results.json, gpu_bench's JSON, the dry run's
batched config check, the final report). Each subcommand prints its key figures as one last line
``gpu_check figures: ...`` and exits non-zero when its check fails. From the repository root:

    python scripts/gpu_check.py tf32 --json bench/gpu/tmp/tf32.json   # on a GPU, about 30 s
    python scripts/gpu_check.py tf32 --dry-run          # CPU: random data, tiny sizes, writes nothing
    python scripts/gpu_check.py run-results RUN_DIR --world-size 2
    python scripts/gpu_check.py bench-summary bench/gpu/tmp/bench.json
    python scripts/gpu_check.py check-config OVERRIDES_TSV
    python scripts/gpu_check.py report STEPS_TSV --out-dir bench/gpu --device "NVIDIA H100 80GB HBM3"
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# torch and benign_lightning are imported inside the subcommands that need them: the readers and the
# report then start in well under a second (the dry run calls them too).

TF32_EPS = (0.05, 0.1, 0.3)


# --- tf32: the same PGD evaluation with TF32 on and inside exact_fp32() ------------------------------
@contextmanager
def tf32_on() -> Iterator[None]:
    """TF32 forced on for matmuls and convolutions (what training with ``set_float32_precision`` and
    cuDNN's default give), restored on exit: the numerics evaluation ran in before exact_fp32()."""
    import torch

    cuda_matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = (torch.get_float32_matmul_precision(), cuda_matmul.allow_tf32, cudnn.allow_tf32)
    torch.set_float32_matmul_precision("high")
    cuda_matmul.allow_tf32 = cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(saved[0])  # (it sets matmul's allow_tf32 too: restored next)
        cuda_matmul.allow_tf32, cudnn.allow_tf32 = saved[1:]


def mnist_splits(data_dir: str, n_train: int, n_test: int, device: Any) -> tuple[Any, Any]:
    """MNIST's training and test subsets (clean labels) as Splits on ``device``, read as a run reads
    them (``BENIGN_DATA_DIR``'s MNIST/raw/, .gz unpacked there once)."""
    from benign_lightning.data import MNISTDataModule
    from benign_lightning.data.base import Split

    dm = MNISTDataModule(data_dir=data_dir, train_subset=n_train, test_subset=n_test)
    dm.prepare_data()
    dm.setup()
    return tuple(Split(s.x.to(device), s.y.to(device)) for s in (dm.train, dm.test))


def random_splits(n: int, device: Any) -> tuple[Any, Any]:
    """The dry run's stand-in for MNIST: ``n`` random uint8 images and labels, for both splits."""
    import torch

    from benign_lightning.data.base import Split

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    split = Split(x.to(device), y.to(device))
    return split, split


def train_cnn(train: Any, epochs: int, device: Any) -> Any:
    """The paper's MNIST CNN, trained briefly with Adam (no Lightning: this step checks evaluation's
    numerics, not the training loop; Adam reaches a low error in a few hundred steps)."""
    import torch
    import torch.nn.functional as F

    from benign_lightning.data import MNISTDataModule
    from benign_lightning.models import build_model

    torch.manual_seed(0)
    model = build_model("mnist_cnn", 10, MNISTDataModule.in_shape,
                        mean=MNISTDataModule.mean, std=MNISTDataModule.std).to(device)  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator(device=device).manual_seed(0)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(train), device=device, generator=g).split(128):
            loss = F.cross_entropy(model(train.inputs(idx)), train.y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def compare_tf32(model: Any, test: Any, eps_grid: tuple[float, ...], steps: int) -> dict[str, Any]:
    """Per ε: PGD adversarial error with TF32 on (the attack called directly) and inside exact_fp32(),
    and how many points' outcome (robust or not) differs. The same seed gives both the same random
    starts, so a difference comes from the numerics alone."""
    import torch

    from benign_lightning.attacks.spec import AttackSpec
    from benign_lightning.evaluation.evaluate import adversarially_correct, exact_fp32, predict

    attack = AttackSpec(name="pgd", norm="linf", steps=steps, random_start=True)
    modes = {"tf32": tf32_on, "exact": exact_fp32}
    with torch.no_grad():
        logits = {}
        for mode, numerics in modes.items():
            with numerics():
                logits[mode] = torch.cat([model(x) for x, _ in test.batches(attack.batch_size)])
    natural = {}
    for mode, numerics in modes.items():
        with numerics():
            natural[mode] = predict(model, test, attack.batch_size) == test.y
    out: dict[str, Any] = {
        "n_points": len(test),
        "attack": attack.describe(),
        # Nonzero on a GPU: TF32 really was on in one mode and off in the other.
        "logit_max_abs_diff": float((logits["tf32"] - logits["exact"]).abs().max()),
        "natural_err": {m: 1 - float(c.float().mean()) for m, c in natural.items()},
        "by_eps": {},
    }
    for eps in eps_grid:
        row: dict[str, Any] = {}
        correct = {}
        for mode, numerics in modes.items():
            start = time.perf_counter()
            with numerics():
                correct[mode] = adversarially_correct(model, test, eps=eps, attack=attack, seed=0)
            row[f"adv_err_{mode}"] = 1 - float(correct[mode].float().mean())  # (a host sync: timed)
            row[f"seconds_{mode}"] = time.perf_counter() - start
        row["n_differ"] = int((correct["tf32"] != correct["exact"]).sum())
        out["by_eps"][str(eps)] = row
    return out


def tf32_figures(result: dict[str, Any]) -> str:
    parts = [
        f"n={result['n_points']}",
        f"natural_err={result['natural_err']['exact']:.4f}",
        f"logit_max_abs_diff={result['logit_max_abs_diff']:.2e}",
    ]
    for eps, row in result["by_eps"].items():
        parts.append(
            f"eps{eps}: adv_err tf32/exact={row['adv_err_tf32']:.4f}/{row['adv_err_exact']:.4f}"
            f" differ={row['n_differ']}"
        )
    return "; ".join(parts)


def cmd_tf32(args: argparse.Namespace) -> int:
    """Train the CNN, compare the two numerics, print (and with --json write) the figures."""
    import torch

    if args.dry_run:  # every import and call path on the CPU, tiny and on random data; nothing written
        device = torch.device("cpu")
        (train, test), epochs, steps = random_splits(16, device), 1, 2
    else:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        train, test = mnist_splits(args.data_dir, args.n_train, args.n_test, device)
        epochs, steps = args.epochs, args.steps
    start = time.perf_counter()
    model = train_cnn(train, epochs, device)
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "n_train": len(train),
        "epochs": epochs,
        "train_s": time.perf_counter() - start,
        **compare_tf32(model, test, tuple(args.eps), steps),
    }
    if device.type != "cuda" and not args.dry_run:
        print("warning: no CUDA device; TF32 does not apply on the CPU, both modes are the same")
    if args.json is not None and not args.dry_run:
        from benign_lightning.plumbing.io import atomic_write_json

        atomic_write_json(args.json, result)
    print(json.dumps(result, indent=1))
    print(f"gpu_check figures: {tf32_figures(result)}")
    return 0


# --- run-results: a benign_lightning run folder's results.json ---------------------------------------
def cmd_run_results(args: argparse.Namespace) -> int:
    """ok when ``results.json`` says ``status: complete`` with the expected ``world_size``."""
    path = Path(args.run_dir) / "results.json"
    if not path.exists():
        print(f"gpu_check figures: no {path}")
        return 1
    r = json.loads(path.read_text())
    ok = r.get("status") == "complete" and r.get("world_size") == args.world_size
    keys = ("status", "world_size", "natural_err", "adv_err", "train_err", "wall_s")
    parts = [f"{k}={r[k]:.4g}" if isinstance(r.get(k), float) else f"{k}={r.get(k)}" for k in keys]
    if r.get("error"):
        parts.append(f"error={r['error'][:200]}")
    if r.get("world_size") != args.world_size:
        parts.append(f"expected world_size={args.world_size}")
    print(f"gpu_check figures: {' '.join(parts)}")
    return 0 if ok else 1


# --- bench-summary: gpu_bench's JSON in one line ---------------------------------------------------
def cmd_bench_summary(args: argparse.Namespace) -> int:
    """Each workload's fast-way time, its two ratios and whether the ways reach the same accuracy
    (recorded, not failed: at a small --fraction few steps are taken and the ways may differ more)."""
    figures = json.loads(Path(args.path).read_text())
    parts = []
    for name, w in figures["workloads"].items():
        fast = w["ways"]["fast"]
        timed = (f"{fast['eval_images_per_s']:.0f} img/s" if "eval_images_per_s" in fast
                 else f"{fast['epoch_s']:.2f} s/epoch")  # fmt: skip
        ratios = " ".join(f"{k}={v:.2f}x" for k, v in w["ratios"].items())
        parts.append(f"{name}: fast {timed} {ratios}")
    same = figures.get("same_accuracy", {}).get("holds")
    if same is not None:
        parts.append(f"same_accuracy={same}")
    print(f"gpu_check figures: {'; '.join(parts)}")
    return 0


# --- check-config: the dry run's value check of every benign_lightning command, in one process ------
def read_overrides(path: Path) -> dict[str, list[str]]:
    """``step<TAB>override`` lines, grouped by step in order (one command per step)."""
    commands: dict[str, list[str]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                step, _, override = line.partition("\t")
                commands.setdefault(step, []).append(override)
    return commands


def cmd_check_config(args: argparse.Namespace) -> int:
    """check_command_line on each step's overrides: `--cfg job` only composes, this also validates
    the values (a bad key, a bad option, a refused combination) as the CLI does before a run."""
    from benign_lightning.config import check_command_line
    from benign_lightning.plumbing.errors import ConfigError

    commands, bad = read_overrides(Path(args.overrides)), []
    for step, overrides in commands.items():
        try:
            check_command_line(overrides)
            print(f"{step}: values ok")
        except ConfigError as e:
            print(f"{step}: error: {e}")
            bad.append(step)
    refused = f", refused: {' '.join(bad)}" if bad else ""
    print(f"gpu_check figures: {len(commands)} commands checked{refused}")
    return 1 if bad else 0


# --- report: bench/gpu/<device>.json and .md -------------------------------------------------------
def device_slug(name: str) -> str:
    """The GPU's name as a file name: lowercase, spaces to underscores (and nothing odd)."""
    return re.sub(r"[^a-z0-9_.-]", "", name.strip().lower().replace(" ", "_")) or "unknown"


def parse_figures(text: str) -> dict[str, Any]:
    """``k=v`` items of a figures line as a dict (numbers as numbers); the line itself stays too."""
    out: dict[str, Any] = {}
    for key, value in re.findall(r"([\w./]+)=(\S+)", text):
        value = value.rstrip(";,")
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def read_steps(path: Path) -> list[dict[str, Any]]:
    """The shell script's step records: name, status, seconds, command, figures, details file."""
    steps = []
    for line in path.read_text().splitlines():
        name, status, seconds, command, figures, details = (line.split("\t") + [""] * 6)[:6]
        step: dict[str, Any] = {
            "name": name,
            "status": status,
            "wall_s": float(seconds or 0),
            "command": command,
            "figures": figures,
            "values": parse_figures(figures),
        }
        if details and Path(details).exists():  # the step's own JSON (tf32, gpu_bench), embedded
            step["details"] = json.loads(Path(details).read_text())
        steps.append(step)
    return steps


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def markdown(report: dict[str, Any]) -> str:
    def cell(text: Any) -> str:
        return str(text).replace("|", "\\|")

    lines = [
        f"# GPU check: {report['device']}",
        "",
        f"{report['date']}; {report['gpus']} GPU(s), DDP runs on {report['ddp_devices']}; "
        f"torch {report['torch']}, pytorch-lightning {report['pytorch_lightning']}, "
        f"Python {report['python']}; written by `bash scripts/gpu_check.sh`.",
        "",
        "| check | command | status | wall s | key figures |",
        "|---|---|---|---|---|",
    ]
    for s in report["steps"]:
        lines.append(f"| {s['name']} | `{cell(s['command'])}` | {s['status']} | {s['wall_s']:.1f} "
                     f"| {cell(s['figures'])} |")  # fmt: skip
    lines += ["", f"all ok: {report['ok']}", ""]
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace) -> int:
    """Write ``<out-dir>/<device>.json`` (every step, with its figures and details) and ``.md``."""
    steps = read_steps(Path(args.steps))
    report = {
        "device": args.device,
        "gpus": args.gpus,
        "ddp_devices": 2 if args.gpus >= 2 else 1,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "torch": version("torch"),
        "pytorch_lightning": version("pytorch-lightning"),
        "python": platform.python_version(),
        "host_cpus": os.cpu_count(),
        "ok": all(s["status"] == "ok" for s in steps),
        "steps": steps,
    }
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = out / device_slug(args.device)
    base.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    base.with_suffix(".md").write_text(markdown(report))
    print(f"gpu_check figures: {base}.json {base}.md, {len(steps)} steps, all ok: {report['ok']}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("tf32", help="PGD error with TF32 on and inside exact_fp32(), on a small MNIST CNN")
    t.add_argument("--dry-run", action="store_true", help="CPU, random data, tiny sizes; writes nothing")
    t.add_argument(
        "--data-dir",
        default=os.environ.get("BENIGN_DATA_DIR", "./gpu_data"),
        help="the folder holding MNIST/raw/ (default: $BENIGN_DATA_DIR, else ./gpu_data)",
    )
    t.add_argument("--n-train", type=int, default=20_000, help="training images (default 20000)")
    t.add_argument("--n-test", type=int, default=2000, help="test images attacked (default 2000)")
    t.add_argument("--epochs", type=int, default=2)
    t.add_argument("--steps", type=int, default=20, help="PGD steps (default 20)")
    t.add_argument("--eps", type=float, nargs="+", default=list(TF32_EPS))
    t.add_argument("--json", type=Path, default=None, metavar="PATH")
    t.set_defaults(func=cmd_tf32)

    r = sub.add_parser("run-results", help="check a run folder's results.json")
    r.add_argument("run_dir")
    r.add_argument("--world-size", type=int, required=True)
    r.set_defaults(func=cmd_run_results)

    b = sub.add_parser("bench-summary", help="gpu_bench's JSON in one line")
    b.add_argument("path")
    b.set_defaults(func=cmd_bench_summary)

    c = sub.add_parser("check-config", help="check_command_line on each step's overrides (step<TAB>override)")
    c.add_argument("overrides")
    c.set_defaults(func=cmd_check_config)

    w = sub.add_parser("report", help="write <out-dir>/<device>.json and .md from the step records")
    w.add_argument("steps")
    w.add_argument("--out-dir", required=True)
    w.add_argument("--device", required=True)
    w.add_argument("--gpus", type=int, default=0)
    w.set_defaults(func=cmd_report)

    args = p.parse_args(argv)
    if args.command == "tf32" and (
        min(args.n_train, args.n_test, args.epochs, args.steps) < 1 or not all(0 < e <= 1 for e in args.eps)
    ):
        t.error("--n-train, --n-test, --epochs and --steps must be >= 1, every --eps in (0, 1]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
