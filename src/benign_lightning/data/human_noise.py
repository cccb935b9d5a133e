"""Real human label noise: CIFAR-10N and CIFAR-100N (Wei et al., ICLR 2022) as a noise mode.

The files ``CIFAR-10_human.pt`` and ``CIFAR-100_human.pt`` are torch zip archives whose
``data.pkl`` is a plain pickle of a dict of int64 numpy arrays, one entry per CIFAR training image.
They are read here with a restricted unpickler that builds numpy arrays and nothing else, rather than
``torch.load(weights_only=False)``, which would run whatever a downloaded file's pickle asks for
(and ``weights_only=True`` refuses the numpy globals these files need). The data is CC BY-NC 4.0:
users bring the file; the project never ships it.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from benign_lightning.data.noise import NoisyLabels
from benign_lightning.plumbing.errors import ConfigError

# data.noise_label → (the file's key of the noisy labels, the key of the clean labels they go with).
CIFAR10N_LABELS: dict[str, tuple[str, str]] = {
    "aggre": ("aggre_label", "clean_label"),
    "random1": ("random_label1", "clean_label"),
    "random2": ("random_label2", "clean_label"),
    "random3": ("random_label3", "clean_label"),
    "worst": ("worse_label", "clean_label"),
}
CIFAR100N_LABELS: dict[str, tuple[str, str]] = {
    "noisy": ("noisy_label", "clean_label"),
    "noisy_coarse": ("noisy_coarse_label", "clean_coarse_label"),
}
HUMAN_LABELS = (*CIFAR10N_LABELS, *CIFAR100N_LABELS)

# The one function numpy's pickles of arrays call (numpy 1 and 2 name its module differently).
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What protocol-2 pickles (torch.save's) call as ``_codecs.encode`` to rebuild an array's
    bytes; only that use is let through."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("it calls _codecs.encode other than for an array's bytes")
    return text.encode("latin1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_bytes,
}


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays (and the dicts, lists and numbers around them); any other global, and
    any torch storage (a persistent id), is refused."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it asks for {module}.{name}; only numpy arrays are read") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it holds torch tensors; a CIFAR-N file holds numpy arrays only")


def read_human_labels(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a CIFAR-10N/100N ``.pt`` file (a torch zip archive with one ``data.pkl``); a
    file that is missing, not such an archive, or holds anything but a dict of arrays is a
    ConfigError naming it."""
    path = Path(path)
    key = f"data.noise_file={path}"
    if not path.is_file():
        raise ConfigError(
            f"{key}: no such file. CIFAR-10N/100N are not shipped (CC BY-NC 4.0): download "
            "CIFAR-10_human.pt or CIFAR-100_human.pt from the CIFAR-N release and point data.noise_file at it"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(pickles) != 1:
                raise ConfigError(f"{key}: expected one data.pkl in the archive, found {len(pickles)}")
            raw = archive.read(pickles[0])
    except zipfile.BadZipFile:
        raise ConfigError(f"{key}: not a torch zip archive (CIFAR-10_human.pt, CIFAR-100_human.pt)") from None
    try:
        content = _ArraysOnly(io.BytesIO(raw)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise ConfigError(f"{key}: its data.pkl is refused: {e}") from None
    if not isinstance(content, dict) or not all(isinstance(v, np.ndarray) for v in content.values()):
        raise ConfigError(f"{key}: expected a dict of numpy arrays, found {type(content).__name__}")
    return {str(k): v for k, v in content.items()}


def label_arrays(
    path: str | Path, label: str, allowed: dict[str, tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray]:
    """The file's ``label`` noisy labels and the clean labels they go with (``label``: one of
    ``allowed``, checked by the datamodule); a file without them is a ConfigError (``validate``
    calls this before any compute, ``human_noisy_labels`` again at setup)."""
    noisy_key, clean_key = allowed[label]
    arrays = read_human_labels(path)
    for k in (noisy_key, clean_key):
        if k not in arrays:
            raise ConfigError(
                f"data.noise_file={path}: no {k!r} entry (it has {', '.join(sorted(arrays))}); "
                "is it the CIFAR-N file of this dataset?"
            )
    return (np.asarray(arrays[k]).astype(np.int64).ravel() for k in (noisy_key, clean_key))


def human_noisy_labels(
    path: str | Path, label: str, clean_labels: np.ndarray, *, allowed: dict[str, tuple[str, str]]
) -> NoisyLabels:
    """The file's ``label`` labels for the whole training set, checked against ``clean_labels`` (the
    dataset's own training labels, in order): the file must hold as many entries, and its clean
    labels must be the dataset's, or the noisy labels belong to other images."""
    noisy_key, clean_key = allowed[label]
    noisy, file_clean = label_arrays(path, label, allowed)
    clean = np.asarray(clean_labels, dtype=np.int64)
    if len(noisy) != len(clean) or len(file_clean) != len(clean):
        raise ConfigError(
            f"data.noise_file={path}: {len(noisy)} {noisy_key} entries for {len(clean)} training images; "
            "it is not this dataset's file"
        )
    differ = int((file_clean != clean).sum())
    if differ:
        raise ConfigError(
            f"data.noise_file={path}: its {clean_key} differs from the dataset's training labels at "
            f"{differ} of {len(clean)} images; the file belongs to other data (or another label order)"
        )
    return NoisyLabels(clean.copy(), noisy, np.flatnonzero(noisy != clean))
