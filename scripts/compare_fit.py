"""List the training points that run A fits and run B does not, and save them as an image grid.

    python scripts/compare_fit.py RUN_A RUN_B [--out fit_a_not_b.png] [--max-images 64]

For example natural (A) against adversarial training (B) on MNIST with 15% random labels (§3.2):
the points AT refuses to fit are mostly the corrupted ones, and the rest are rare, atypical
examples (Figures 1 and 4). Each image is titled with its dataset index, given label and true label
(a * marks a corrupted point). The runs must share data, eta, noise_mode and data_seed.
"""

from __future__ import annotations

import argparse
import sys

from benign_lightning.analysis.compare import fit_difference, save_image_grid, training_datamodule
from benign_lightning.plumbing.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_a", help="run folder whose fit points are listed (e.g. natural)")
    parser.add_argument("run_b", help="run folder that does not fit them (e.g. at or trades)")
    parser.add_argument("--out", default="fit_a_not_b.png", help="image grid (PNG)")
    parser.add_argument("--max-images", type=int, default=64, help="at most this many images")
    parser.add_argument(
        "--data-dir", default=None, help="where the dataset lies, if not where the run saw it"
    )
    parser.add_argument("--list", type=int, default=20, help="print this many of the points")
    args = parser.parse_args(argv)
    try:
        diff = fit_difference(args.run_a, args.run_b)
        print(diff.summary("A", "B"))
        print(f"{'dataset index':>13}  {'given':>5}  {'true':>4}  corrupted")
        for i in range(min(args.list, len(diff.rows))):
            flag = "yes" if diff.corrupted[i] else ""
            print(f"{diff.dataset_index[i]:>13}  {diff.given[i]:>5}  {diff.true[i]:>4}  {flag}")
        shown = diff.rows[: args.max_images]
        train = training_datamodule(args.run_a, args.data_dir).train
        images = train.inputs(train.y.new_tensor(shown)).numpy()
        titles = [
            f"#{d} given {g} true {t}{'*' if g != t else ''}"
            for d, g, t in zip(diff.dataset_index, diff.given, diff.true, strict=False)
        ]
        path = save_image_grid(images, titles[: len(shown)], args.out, title=diff.summary("A", "B"))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"image grid ({len(shown)} of {len(diff.rows)}): {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
