"""One training step of N members three ways, side by side: vmapped, in turn, and as N models.

The step is what ``EnsembleMixin.training_step`` does (forward, the members' mean cross-entropies
summed, backward), on random inputs of the model's shape. Medians of ``--repeats`` timed steps
after 3 untimed ones, interleaved so that machine noise hits all three.

    python scripts/ensemble_step_bench.py                        # toy-MNIST's MLP (4 x 512)
    python scripts/ensemble_step_bench.py --in-shape 2 --depth 4 --width 100   # the 4 x 100 MLP
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from benign_lightning.models import build_model
from benign_lightning.models.ensemble import StackedModels


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--in-shape", type=int, nargs="+", default=[1, 28, 28])
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args(argv)
    torch.set_flush_denormal(True)
    n, b = args.members, args.batch_size
    shape = tuple(args.in_shape)
    models = [build_model("mlp", 2, shape, depth=args.depth, width=args.width) for _ in range(n)]
    x, y = torch.rand(n, b, *args.in_shape), torch.randint(0, 2, (n, b))

    def stacked_step(stacked: StackedModels):
        def step() -> None:
            logits = stacked(x).flatten(0, 1)
            F.cross_entropy(logits, y.flatten(), reduction="none").view(n, b).mean(1).sum().backward()

        return step

    def separate_step() -> None:
        for k, model in enumerate(models):
            F.cross_entropy(model(x[k]), y[k]).backward()

    ways = {
        "vmapped": stacked_step(StackedModels(models, vmapped=True)),
        "in turn": stacked_step(StackedModels(models, vmapped=False)),
        f"{n} models": separate_step,
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for i in range(args.repeats + 3):
        for name, step in ways.items():
            start = time.perf_counter()
            step()
            if i >= 3:
                times[name].append(time.perf_counter() - start)
    params = sum(p.numel() for p in models[0].parameters())
    print(f"{n} members of the {args.depth} x {args.width} MLP ({params:,} parameters each), batch {b}:")
    for name, t in times.items():
        print(f"  {name:>10}: {1e3 * statistics.median(t):.1f} ms per training step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
