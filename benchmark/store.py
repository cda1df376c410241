"""Cache root, atomic writes, file locks and checksums.

Everything lhcad writes to disk goes through :func:`atomic_write` so that an interrupted run never
leaves a half-written file under its final name: the next run either finds the complete file or
nothing, which is what makes resume safe.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ENV_DATA = "LHCAD_DATA"


def data_root() -> Path:
    """Root of the data cache: ``$LHCAD_DATA`` if set, else the platform cache dir (XDG)."""
    env = os.environ.get(ENV_DATA)
    if env:
        root = Path(env).expanduser()
    else:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("lhcad"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def dataset_dir(dataset: str, source: str, root: Path | None = None) -> Path:
    """Folder of one dataset's canonical files for one source (``real`` or ``generated``)."""
    path = (root or data_root()) / dataset / source
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[Any]:
    """Open a temporary sibling of ``path`` for writing and rename it into place on success.

    ``mode`` ``"path"`` yields the temporary :class:`Path` instead of an open file (for libraries
    such as h5py that open files themselves). On an exception the temporary file is removed and
    the old ``path`` (if any) is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        if mode == "path":
            os.close(fd)
            yield tmp
        else:
            with os.fdopen(fd, mode) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Atomically write ``payload`` as indented, key-sorted, strict JSON (numpy values converted).

    Non-finite floats (an infinite background rejection, an undefined ratio) are written as the
    strings ``"inf"``, ``"-inf"`` and ``"nan"``: standard JSON has no such numbers, and the
    published tables must parse in any JSON reader. :func:`loads_json` turns them back.
    """
    text = json.dumps(_strict(payload), indent=2, sort_keys=True, default=_json_default,
                      allow_nan=False)
    with atomic_write(path, "w") as handle:
        handle.write(text + "\n")


#: how non-finite floats are spelled in lhcad's JSON files
NON_FINITE = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}


def loads_json(text: str | bytes) -> Any:
    """Parse JSON written by :func:`write_json`, restoring ``"inf"``/``"-inf"``/``"nan"`` to floats
    (older files with bare ``Infinity``/``NaN`` still parse)."""
    return _restore(json.loads(text))


def read_json(path: str | os.PathLike[str]) -> Any:
    return loads_json(Path(path).read_text())


def _strict(obj: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays converted, non-finite floats spelled out."""
    import numpy as np

    if isinstance(obj, (np.generic, np.ndarray)):
        obj = obj.tolist()  # a Python scalar for np.generic, nested lists for arrays
    if isinstance(obj, float):
        if obj != obj:
            return "nan"
        if obj in (float("inf"), float("-inf")):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


def _restore(obj: Any) -> Any:
    if isinstance(obj, str):
        return NON_FINITE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: _restore(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_restore(v) for v in obj]
    return obj


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], *, blocking: bool = True) -> Iterator[Path]:
    """Exclusive advisory lock on ``<path>.lock`` so two processes never write one file at once.

    Raises :class:`BlockingIOError` when ``blocking`` is false and someone else holds the lock.
    """
    lock_path = Path(f"{os.fspath(path)}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        fcntl.flock(handle.fileno(), flags)
        try:
            yield lock_path
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def file_checksum(path: str | os.PathLike[str], algorithm: str = "sha256", chunk: int = 1 << 22) -> str:
    """Hex digest of a file, read in chunks (bounded memory for multi-GB downloads)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
