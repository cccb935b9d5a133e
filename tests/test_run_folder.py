"""Nothing is lost or mixed up: one run per folder, checkpoints that survive a bad file, and damaged
dataset files named in a clear error."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import socket
import subprocess
import sys
import time

from conftest import QUIET, make_cifar, make_idx_mnist, read_json

from benign_lightning.data.files import compare_checksums
from benign_lightning.run.lock import LOCK_NAME

TOY = [*QUIET, "data.n_train=300", "data.n_test=50", "attack.steps=2", "trainer.min_epochs=null",
       "stop_at_zero_train_err=false", "logger=none"]  # fmt: skip


def test_a_second_process_on_a_run_folder_is_refused(tmp_path, main_in_process):
    run_dir = tmp_path / "shared_run"
    first = subprocess.Popen(
        [sys.executable, "-m", "benign_lightning", *TOY, "trainer.max_epochs=60", "data.n_train=2000",
         f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    try:
        deadline = time.time() + 120
        while not (run_dir / ".hydra" / "overrides.yaml").exists():  # the first run holds the lock
            assert first.poll() is None and time.time() < deadline, first.stderr.read()
            time.sleep(0.2)
        code, _, stderr = main_in_process(*TOY, "trainer.max_epochs=1", f"hydra.run.dir={run_dir}")
        assert code == 2
        assert f"error: run folder {run_dir} is in use by pid {first.pid} on {socket.gethostname()}" in stderr
        assert "trainer.max_epochs=60" in (run_dir / ".hydra" / "overrides.yaml").read_text()  # not replaced
        assert first.wait(timeout=300) == 0, first.stderr.read()
    finally:
        first.kill()
    results = read_json(run_dir / "results.json")
    assert results["status"] == "complete" and results["epochs"] == 60
    assert (run_dir / LOCK_NAME).read_text() == ""  # released


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, main_in_process):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / LOCK_NAME).write_text(json.dumps({"host": "gone", "pid": 2**22 + 17}))
    code, stdout, stderr = main_in_process(*TOY, "trainer.max_epochs=1", f"hydra.run.dir={run_dir}")
    assert code == 0, stderr
    assert f"taking over run folder {run_dir} from pid {2**22 + 17} on gone" in stdout + stderr
    assert read_json(run_dir / "results.json")["status"] == "complete"


def test_a_damaged_checkpoint_falls_back_to_the_previous_one_or_stops_clearly(tmp_path, main_in_process):
    run_dir = tmp_path / "r"
    code, _, stderr = main_in_process(*TOY, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}")
    assert code == 0, stderr
    last, previous = run_dir / "checkpoints" / "last.ckpt", run_dir / "checkpoints" / "last.prev.ckpt"
    assert last.is_file() and previous.is_file()  # the epoch-2 and the epoch-1 checkpoints
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # a copy cut off half-way

    code, stdout, stderr = main_in_process(*TOY, "trainer.max_epochs=3", f"hydra.run.dir={run_dir}")
    assert code == 0, stderr
    said = stdout + stderr
    assert f"{last} cannot be read" in said and "resuming from the previous checkpoint" in said
    results = read_json(run_dir / "results.json")
    assert results["resumed"] and results["resumed_from"] == "checkpoints/last.prev.ckpt"
    assert results["start_epoch"] == 1 and results["epochs"] == 3
    assert (run_dir / "checkpoints" / "last.ckpt.damaged").exists()  # kept aside, not rotated in

    for ckpt in (last, previous):
        ckpt.write_bytes(b"PK\x03\x04 not a whole archive")
    code, _, stderr = main_in_process(*TOY, "trainer.max_epochs=4", f"hydra.run.dir={run_dir}")
    assert code == 2 and "Traceback" not in stderr
    assert f"cannot resume: {last} (" in stderr and str(previous) in stderr and "resume=false" in stderr
    again = main_in_process(*TOY, "resume=false", "trainer.max_epochs=1", f"hydra.run.dir={run_dir}")
    code, stderr = again[0], again[2]
    assert code == 0, stderr
    assert not read_json(run_dir / "results.json")["resumed"]


def test_a_truncated_mnist_archive_is_named(tmp_path, main_in_process):
    make_idx_mnist(tmp_path / "data", gz=True)
    archive = tmp_path / "data" / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[:200])
    code, _, stderr = main_in_process("+experiment=mnist_noise", *QUIET, f"data.data_dir={tmp_path / 'data'}",
                                      "hydra.run.dir=r")  # fmt: skip
    assert code == 2 and "Traceback" not in stderr
    assert f"error: {archive} is damaged (EOFError" in stderr
    assert "delete it and run with data.download=true, or restore it" in stderr
    assert not (archive.parent / "train-images-idx3-ubyte").exists()  # no half-unpacked file left
    assert not (tmp_path / "r" / "results.json").exists()


def test_an_idx_file_of_the_wrong_size_is_named(tmp_path, main_in_process):
    make_idx_mnist(tmp_path / "data", gz=False)
    labels = tmp_path / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-5])  # 15 labels where the header says 20
    code, _, stderr = main_in_process("+experiment=mnist_noise", *QUIET, f"data.data_dir={tmp_path / 'data'}",
                                      "hydra.run.dir=r")  # fmt: skip
    assert code == 2
    assert f"error: {labels} is damaged (23 bytes where its header [20] says 28)" in stderr


def test_a_cifar_pickle_that_does_not_load_is_named(tmp_path, main_in_process):
    make_cifar(tmp_path / "data", "cifar10")
    batch = tmp_path / "data" / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(pickle.dumps({b"data": 1})[:-3])
    data_dir = f"data.data_dir={tmp_path / 'data'}"
    code, _, stderr = main_in_process("data=cifar10", "debug=default", *QUIET, data_dir, "hydra.run.dir=r")
    assert code == 2 and f"error: {batch} is damaged (the pickle does not load" in stderr


def test_checksums_are_compared_once_and_differences_warned(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("BENIGN_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "a").write_bytes(b"original bytes")
    (folder / "b").write_bytes(b"someone else's bytes")
    expected = {"a": hashlib.md5(b"original bytes").hexdigest(), "b": "0" * 32, "missing": "1" * 32}
    assert compare_checksums(folder, expected, "TOY") == {"a": "original", "b": "differs"}
    assert "TOY: b in" in caplog.text and "differ from the original TOY files" in caplog.text
    cache = json.loads((tmp_path / "cache" / "checksums.json").read_text())  # not in the data folder
    assert cache[str(folder / "a")]["md5"] == expected["a"]
    assert sorted(p.name for p in folder.iterdir()) == ["a", "b"]
    (folder / "a").write_bytes(b"changed")  # a new size: hashed again
    assert compare_checksums(folder, expected, "TOY")["a"] == "differs"
