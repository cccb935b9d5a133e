"""A quiet console: Lightning's messages that say nothing to this project's users are dropped.

Imported by the entry point. What goes: the tip advertising Lightning's model registry, the INFO
lines about absent GPUs/TPUs/HPUs, and warnings raised inside Lightning's own code about Lightning's
own internals. What stays: every warning about the user's run (its data, config or results).
"""

from __future__ import annotations

import logging
import warnings


class _DropMessages(logging.Filter):
    """Drops log records whose message starts with one of ``prefixes``."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).lstrip().startswith(self.prefixes)


# Lightning's per-run banner: "GPU available: False, used: False", "TPU available: ...", and the
# "💡 Tip: For seamless cloud uploads and versioning, try installing litmodels ..." advertisement.
_BANNER = _DropMessages("GPU available", "TPU available", "HPU available", "💡 Tip")
for name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero",
             "lightning_fabric.utilities.rank_zero"):  # fmt: skip
    logging.getLogger(name).addFilter(_BANNER)

# Deprecation warnings raised by Lightning's code about its own use of torch: a user can do nothing
# about them. (Any that name the user's code still show.)
for module in (r"pytorch_lightning\..*", r"lightning_fabric\..*", r"lightning\..*", r"torch\.utils\._pytree"):
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
    warnings.filterwarnings("ignore", category=FutureWarning, module=module)
# Our tensor loader is not a DataLoader, so Lightning's advice on DataLoader workers does not apply.
warnings.filterwarnings("ignore", message=r".*does not have many workers which may be a bottleneck")
# Every value is logged once per epoch, so the step-logging interval Lightning checks is not used.
warnings.filterwarnings(
    "ignore", message=r"The number of training batches .* is smaller than the logging interval"
)
