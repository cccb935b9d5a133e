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


def _multirun_flag_first(argv: list[str]) -> list[str]:
    """Let ``-m`` stand anywhere, as in ``python -m benign_lightning +experiment=X -m eta=0,0.1``.

    Hydra's argparse takes overrides as one positional list, so a flag between overrides would
    leave the ones after it unparsed.
    """
    flags = [a for a in argv[1:] if a in ("-m", "--multirun")]
    rest = [a for a in argv[1:] if a not in ("-m", "--multirun")]
    return argv[:1] + flags[:1] + rest


def main() -> None:
    sys.argv = _multirun_flag_first(sys.argv)
    app()


if __name__ == "__main__":
    main()
