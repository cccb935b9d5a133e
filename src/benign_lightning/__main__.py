"""``python -m benign_lightning [+experiment=NAME] [-m] overrides``: compose the config, run it."""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from benign_lightning.errors import ConfigError


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def app(cfg: DictConfig) -> float | None:
    from benign_lightning.run import print_summary, run, set_float32_precision

    set_float32_precision()
    run_dir = HydraConfig.get().runtime.output_dir
    try:
        results = run(cfg, run_dir)
    except ConfigError as e:
        # A user's mistake: say what is wrong and stop, without a traceback.
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print_summary(results, run_dir)
    return results["adv_err"]  # what a Hydra sweeper would optimise


def main() -> None:
    app()


if __name__ == "__main__":
    main()
