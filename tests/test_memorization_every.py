"""The memorization record every n epochs: the cost of one prediction pass over the training set is
paid every n-th epoch, and the last epoch is always recorded."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import QUIET, read_json

TOY = [*QUIET, "data.n_train=300", "data.n_test=50", "attack.steps=2", "trainer.min_epochs=null",
       "logger=none", "memorization=true", "memorization_every_n_epochs=3"]  # fmt: skip


@pytest.mark.parametrize("stop,expected", [(False, [3, 6, 7]), (True, None)])
def test_record_every_n_epochs_and_at_the_end(tmp_path, main_in_process, stop, expected):
    stopping = f"stop_at_zero_train_err={str(stop).lower()}"
    code, _, stderr = main_in_process(*TOY, "trainer.max_epochs=7", stopping, "eta=0", "hydra.run.dir=r")
    assert code == 0, stderr
    record = np.load(tmp_path / "r" / "memorization.npz")
    epochs = list(record["epochs"])
    results = read_json(tmp_path / "r" / "results.json")
    if expected is not None:
        assert epochs == expected
    else:  # stopped at zero training error, wherever that was: the last epoch is recorded
        assert epochs[-1] == results["epochs"] and all(e % 3 == 0 for e in epochs[:-1])
    stable = record["stable_fit_epoch"]
    assert set(stable[stable > 0]) <= set(epochs)  # fit epochs are known to the recorded ones
