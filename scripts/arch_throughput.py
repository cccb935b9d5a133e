"""Parameter count and throughput (images/s) of every registered architecture on synthetic data.

    python scripts/arch_throughput.py                          # CPU, CIFAR shape, batch 128
    python scripts/arch_throughput.py --device cuda --batch-size 256 --json bench/gpu_archs.json
    python scripts/arch_throughput.py --archs resnet50_imagenet --shape 3 224 224 --classes 10

Training throughput is one SGD step (forward, backward, update) per batch; evaluation is a forward
pass in eval mode without gradients. Each figure is the median of ``--repeats`` timed batches after
``--warmup`` untimed ones (first calls pick kernels and allocate memory).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from benign_lightning.models import MODELS, build_model, parameter_count


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_seconds(step, device: torch.device, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_model(name, args.classes, tuple(args.shape)).to(device)
    x = torch.rand(args.batch_size, *args.shape, device=device)
    y = torch.randint(0, args.classes, (args.batch_size,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    @torch.no_grad()
    def eval_step() -> None:
        model(x)

    model.train()
    train_s = _median_seconds(train_step, device, args.warmup, args.repeats)
    model.eval()
    eval_s = _median_seconds(eval_step, device, args.warmup, args.repeats)
    return {
        "arch": name,
        "params": parameter_count(model),
        "train_img_per_s": args.batch_size / train_s,
        "eval_img_per_s": args.batch_size / eval_s,
        "train_s_per_batch": train_s,
        "eval_s_per_batch": eval_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--archs", nargs="+", default=["mlp", "mnist_cnn", "resnet18", "resnet50", "vgg19", "densenet121"]
    )
    parser.add_argument("--shape", nargs=3, type=int, default=[3, 32, 32])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    unknown = [a for a in args.archs if a not in MODELS]
    if unknown:
        parser.error(f"unknown --archs {unknown}; known: {', '.join(sorted(MODELS))}")
    rows = []
    print(f"{'arch':<18}{'params':>12}{'train img/s':>14}{'eval img/s':>13}")
    for name in args.archs:
        row = measure(name, args)
        rows.append(row)
        print(
            f"{name:<18}{row['params']:>12,}{row['train_img_per_s']:>14.1f}{row['eval_img_per_s']:>13.1f}",
            flush=True,
        )
    if args.json:
        meta = {
            "device": args.device,
            "device_name": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "shape": args.shape,
            "batch_size": args.batch_size,
            "repeats": args.repeats,
        }
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
