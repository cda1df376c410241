"""Explicit, verified, resumable downloads into the lhcad cache.

:func:`fetch_file` brings one file of a dataset into ``<data_root>/<dataset>/real/raw/``:

* the file is written to a hidden ``.<name>.partial`` beside its final name and resumed with an
  HTTP ``Range`` request after a dropped connection; 5xx answers, 429 and dropped connections are
  retried with exponential back-off, other 4xx answers move on to the next URL;
* URLs are tried in order: a site mirror (``mirror=`` / ``$LHCAD_MIRROR``) first, then the URL of
  the registry, the registry's mirrors, and the Zenodo ``links.self`` URL;
* size and checksum are checked before the file is renamed into place (``os.replace``), so the
  cache only ever holds verified files (or, where no checksum is known anywhere, files marked
  ``verified: false`` in their record). Checksums come from ``datasets.yaml`` (md5/sha256 pinned)
  or from the Zenodo records API (``https://zenodo.org/api/records/<id>``: ``files[].key``,
  ``size``, ``checksum = "md5:<hex>"``, ``links.self``);
* an exclusive lock on ``<name>.lock`` makes a second concurrent fetch wait and then find the
  verified file instead of writing the same file twice;
* ``from_dir`` takes a file the user already has (copied, verified where a checksum is known,
  otherwise accepted with an :class:`UnverifiedFileWarning`);
* ``offline`` never touches the network and never deletes anything in the cache.

Every cached file has a record ``.<name>.verified.json`` (size, mtime, md5, sha256, where the
checksum came from, where the file came from) so later runs need not re-hash multi-GB files.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import re
import shutil
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchmark.store import file_lock

log = logging.getLogger("lhcad.sources")

ENV_MIRROR = "LHCAD_MIRROR"
ENV_ZENODO_API = "LHCAD_ZENODO_API"
ZENODO_API = "https://zenodo.org/api/records"
USER_AGENT = "lhcad/0.1 (+anomaly-detection benchmark; explicit dataset fetch)"

#: default retry policy (tests lower the back-off)
RETRIES = 5
BACKOFF = 1.0
MAX_BACKOFF = 60.0
TIMEOUT = (20.0, 120.0)  # connect, read (seconds)
BLOCK = 1 << 16  # a dropped connection loses at most the block being read


class DownloadError(RuntimeError):
    """A file could not be brought into the cache (the message says which, from where, and why)."""


class ChecksumError(DownloadError):
    """A file's size or checksum differs from the expected one; it was not put into the cache."""


class MissingDataError(DownloadError, FileNotFoundError):
    """Data needed is not in the cache and may not be downloaded (offline, or not asked for)."""


class UnverifiedFileWarning(UserWarning):
    """A file was accepted without any checksum to compare it with."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: where from (in order) and what it must look like."""

    name: str
    urls: tuple[str, ...] = ()
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    #: where the expected checksum comes from: "registry", "zenodo" or None (unknown)
    checksum_source: str | None = None

    @property
    def has_checksum(self) -> bool:
        return bool(self.md5 or self.sha256)


@dataclass
class FetchedFile:
    """A file in the cache and what is known about it."""

    name: str
    path: Path
    size: int
    md5: str
    sha256: str
    verified: bool
    checksum_source: str | None
    origin: str
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


# -- checksums ---------------------------------------------------------------------------------------
def hash_file(path: str | os.PathLike[str], chunk: int = 1 << 22) -> tuple[str, str]:
    """(md5, sha256) of a file in one pass, read in chunks."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def _mismatch(remote: RemoteFile, size: int, md5: str, sha256: str) -> str | None:
    """Why a file with these properties is not ``remote`` (None when it matches)."""
    if remote.size is not None and size != remote.size:
        return f"size {size} bytes, expected {remote.size}"
    if remote.md5 and md5 != remote.md5.lower():
        return f"md5 {md5}, expected {remote.md5.lower()} ({remote.checksum_source or 'pinned'})"
    if remote.sha256 and sha256 != remote.sha256.lower():
        return f"sha256 {sha256}, expected {remote.sha256.lower()} ({remote.checksum_source or 'pinned'})"
    return None


# -- Zenodo records API -------------------------------------------------------------------------------
_ZENODO_CACHE: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}


def zenodo_api_base() -> str:
    return os.environ.get(ENV_ZENODO_API, ZENODO_API).rstrip("/")


def zenodo_record_id(url: str | None) -> int | None:
    """The record number in a Zenodo download URL (``.../records/<id>/files/...``), if any.

    URLs on zenodo.org (or sandbox) and on the host of ``$LHCAD_ZENODO_API`` count as Zenodo.
    """
    if not url:
        return None
    from urllib.parse import urlsplit

    host = urlsplit(url).netloc.lower()
    if not (host == "zenodo.org" or host.endswith(".zenodo.org") or host == urlsplit(zenodo_api_base()).netloc.lower()):
        return None
    m = re.search(r"/(?:api/)?records?/(\d+)/files/", urlsplit(url).path)
    return int(m.group(1)) if m else None


def zenodo_record(record_id: int, session: Any = None, timeout: Any = None,
                  retries: int | None = None) -> dict[str, dict[str, Any]]:
    """Files of a Zenodo record: ``{name: {"size", "md5", "url"}}`` from the records API.

    Raises :class:`DownloadError` when the API cannot be reached or answers something else.
    """
    import requests

    base = zenodo_api_base()
    key = (base, int(record_id))
    if key in _ZENODO_CACHE:
        return _ZENODO_CACHE[key]
    session = session or _session()
    timeout = TIMEOUT if timeout is None else timeout
    url = f"{base}/{int(record_id)}"
    retries = min(RETRIES, 2) if retries is None else retries  # metadata only: fail fast
    last = ""
    for attempt in range(retries + 1):
        try:
            resp = session.get(url, timeout=timeout, headers={"Accept": "application/json"})
            if resp.status_code == 200:
                payload = resp.json()
                break
            last = f"HTTP {resp.status_code}"
            if resp.status_code < 500 and resp.status_code != 429:
                raise DownloadError(f"Zenodo records API {url} answered {last}")
        except (requests.RequestException, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        if attempt < retries:
            _sleep(attempt + 1)
    else:
        raise DownloadError(f"cannot read Zenodo records API {url}: {last}")
    files: dict[str, dict[str, Any]] = {}
    entries = payload.get("files", [])
    if isinstance(entries, dict):  # some API versions: {"entries": {...}}
        entries = list(entries.get("entries", {}).values())
    for item in entries:
        name = item.get("key") or item.get("filename")
        if not name:
            continue
        checksum = str(item.get("checksum") or "")
        md5 = checksum.split(":", 1)[1].lower() if checksum.startswith("md5:") else None
        links = item.get("links") or {}
        link = links.get("self") or links.get("content") or links.get("download")
        size = item.get("size", item.get("filesize"))
        files[name] = {"size": int(size) if size is not None else None, "md5": md5, "url": link}
    _ZENODO_CACHE[key] = files
    return files


def clear_zenodo_cache() -> None:
    _ZENODO_CACHE.clear()


# -- URLs --------------------------------------------------------------------------------------------
def site_mirror_urls(mirror: str | None, dataset: str, name: str) -> list[str]:
    """URLs of ``name`` on a site mirror.

    A mirror with ``{name}`` (and optionally ``{dataset}``) placeholders is formatted; a plain base
    URL is tried as ``<base>/<dataset>/<name>`` and then ``<base>/<name>``.
    """
    if not mirror:
        return []
    if "{name}" in mirror:
        return [mirror.format(name=quote(name), dataset=quote(dataset))]
    base = mirror.rstrip("/")
    return [f"{base}/{quote(dataset)}/{quote(name)}", f"{base}/{quote(name)}"]


# -- HTTP --------------------------------------------------------------------------------------------
def _session() -> Any:
    import requests

    s = requests.Session()
    # identity: byte offsets of Range requests and sizes refer to the file, not a gzip stream
    s.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    return s


def _sleep(attempt: int) -> None:
    delay = min(BACKOFF * 2 ** max(attempt - 1, 0), MAX_BACKOFF)
    time.sleep(delay * (0.75 + 0.5 * random.random()))


class _Transient(Exception):
    """Worth retrying the same URL (5xx, dropped connection, short body)."""


class _Permanent(Exception):
    """Move on to the next URL (404, 403, ...)."""


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(start, total) of a ``Content-Range: bytes a-b/N`` (or ``bytes */N``) header."""
    if not value:
        return None, None
    m = re.match(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value)
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(2)) if m.group(2) != "*" else None
    return start, total


def _http_to_partial(url: str, part: Path, expected_size: int | None, session: Any, *, name: str,
                     progress: bool, retries: int, timeout: Any) -> int | None:
    """Download ``url`` into ``part``, resuming what is there. Returns the total size announced.

    Raises :class:`_Permanent` when this URL will not serve the file.
    """
    import requests
    from tqdm.auto import tqdm

    stalled = 0  # attempts in a row that gained no bytes
    tries = 0
    last = ""
    while True:
        pos = part.stat().st_size if part.exists() else 0
        if expected_size is not None and pos > expected_size:
            part.unlink()
            pos = 0
        headers = {"Range": f"bytes={pos}-"} if pos else {}
        total: int | None = None
        try:
            with session.get(url, headers=headers, stream=True, timeout=timeout) as resp:
                status = resp.status_code
                if status == 416:
                    _, total = _content_range(resp.headers.get("Content-Range"))
                    if total is not None and pos == total:
                        return total
                    part.unlink(missing_ok=True)
                    raise _Transient("HTTP 416 (range not satisfiable); starting over")
                if status == 429 or status >= 500:
                    raise _Transient(f"HTTP {status}")
                if status >= 400:
                    raise _Permanent(f"HTTP {status}")
                if status == 206:
                    start, total = _content_range(resp.headers.get("Content-Range"))
                    if start != pos:
                        part.unlink(missing_ok=True)
                        raise _Transient(f"server resumed at byte {start}, asked for {pos}; starting over")
                    mode = "ab"
                else:
                    pos, mode = 0, "wb"
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                bar_total = total if total is not None else expected_size
                with open(part, mode) as handle, tqdm(
                    total=bar_total, initial=pos, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=name, disable=not progress, leave=False,
                ) as bar:
                    for block in resp.iter_content(BLOCK):
                        handle.write(block)
                        bar.update(len(block))
                    handle.flush()
                    os.fsync(handle.fileno())
                got = part.stat().st_size
                if total is not None and got < total:
                    raise _Transient(f"connection closed at byte {got} of {total}")
                return total
        except _Permanent:
            raise
        except (_Transient, requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            last = str(exc) or type(exc).__name__
        gained = (part.stat().st_size if part.exists() else 0) > pos
        stalled = 0 if gained else stalled + 1
        tries += 1
        if stalled > retries or tries > 20 * (retries + 1):
            raise _Permanent(f"gave up after {tries} attempts ({last})")
        log.info("%s: %s; retrying (attempt %d)", name, last, tries)
        _sleep(max(stalled, 1))


# -- records beside cached files --------------------------------------------------------------------
def _record_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.verified.json")


def _partial_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.partial")


def _read_record(dest: Path) -> dict[str, Any] | None:
    try:
        return json.loads(_record_path(dest).read_text())
    except (OSError, ValueError):
        return None


def _write_record(dest: Path, fetched: FetchedFile) -> None:
    from benchmark.store import write_json

    st = dest.stat()
    payload = fetched.to_json()
    payload.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
    payload.pop("path", None)
    write_json(_record_path(dest), payload)


def _expected_from_record(remote: RemoteFile, record: dict[str, Any] | None) -> RemoteFile:
    """Use checksums recorded earlier where the registry and Zenodo give none (e.g. offline)."""
    if remote.has_checksum or not record:
        return remote
    return RemoteFile(remote.name, remote.urls, remote.size if remote.size is not None else record.get("size"),
                      record.get("md5"), record.get("sha256"), "recorded")


def _check_cached(dest: Path, remote: RemoteFile) -> tuple[FetchedFile | None, str | None]:
    """(record, None) when ``dest`` is a good copy of ``remote``; (None, why) otherwise."""
    record = _read_record(dest)
    expected = _expected_from_record(remote, record)
    st = dest.stat()
    if record and record.get("size") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns:
        md5, sha = record.get("md5", ""), record.get("sha256", "")
    else:
        md5, sha = hash_file(dest)
    why = _mismatch(expected, st.st_size, md5, sha)
    if why:
        return None, why
    verified = bool(remote.has_checksum) or bool(record and record.get("verified"))
    source = remote.checksum_source if remote.has_checksum else (record or {}).get("checksum_source")
    origin = (record or {}).get("origin", "cache")
    fetched = FetchedFile(remote.name, dest, st.st_size, md5, sha, verified, source, origin)
    if not record or record.get("mtime_ns") != st.st_mtime_ns or record.get("verified") != verified:
        _write_record(dest, fetched)
    return fetched, None


def _quarantine(dest: Path, why: str) -> None:
    """Move a bad cache entry aside (``<name>.corrupt``) so it is never used again."""
    bad = dest.with_name(dest.name + ".corrupt")
    log.warning("%s fails verification (%s); moved to %s", dest, why, bad)
    os.replace(dest, bad)
    _record_path(dest).unlink(missing_ok=True)


def _finish(part: Path, dest: Path, remote: RemoteFile, origin: str, *, allow_unverified: bool = True) -> FetchedFile:
    """Verify the complete ``part`` and rename it to ``dest``; raises :class:`ChecksumError`."""
    size = part.stat().st_size
    md5, sha = hash_file(part)
    why = _mismatch(remote, size, md5, sha)
    if why:
        part.unlink(missing_ok=True)
        raise ChecksumError(f"{remote.name} from {origin}: {why}; the file was discarded, the cache is unchanged")
    notes = []
    if not remote.has_checksum:
        msg = (f"{remote.name} from {origin}: no checksum known (none pinned in datasets.yaml and the "
               f"Zenodo records API gave none); accepted UNVERIFIED with md5 {md5}")
        if not allow_unverified:
            part.unlink(missing_ok=True)
            raise ChecksumError(msg)
        warnings.warn(msg, UnverifiedFileWarning, stacklevel=3)
        notes.append(msg)
    os.replace(part, dest)
    _partial_meta(dest).unlink(missing_ok=True)
    fetched = FetchedFile(remote.name, dest, size, md5, sha, remote.has_checksum, remote.checksum_source,
                          origin, notes)
    _write_record(dest, fetched)
    return fetched


def _partial_meta(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.partial.json")


def _prepare_partial(dest: Path, remote: RemoteFile) -> None:
    """Keep a leftover partial only if it was started for this very file (same size/checksums)."""
    from benchmark.store import write_json

    part, meta = _partial_path(dest), _partial_meta(dest)
    want = {"size": remote.size, "md5": remote.md5, "sha256": remote.sha256}
    try:
        have = json.loads(meta.read_text())
    except (OSError, ValueError):
        have = None
    if have != want:
        if part.exists():
            log.info("%s: discarding a partial download of another version", remote.name)
            part.unlink()
        write_json(meta, want)


# -- the one entry point -----------------------------------------------------------------------------
def fetch_file(
    remote: RemoteFile,
    dest: str | os.PathLike[str],
    *,
    from_dir: str | os.PathLike[str] | None = None,
    offline: bool = False,
    progress: bool = True,
    session: Any = None,
    retries: int | None = None,
    timeout: Any = None,
    fetch_hint: str | None = None,
) -> FetchedFile:
    """Bring ``remote`` into the cache at ``dest`` (see the module docstring); returns its record.

    ``fetch_hint`` is the command a user should run when the file is missing offline.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    retries = RETRIES if retries is None else retries
    timeout = TIMEOUT if timeout is None else timeout
    hint = fetch_hint or "lhcad fetch <dataset>"
    with _locked(dest):
        if dest.exists():
            fetched, why = _check_cached(dest, remote)
            if fetched is not None:
                return fetched
            if offline:
                raise DownloadError(
                    f"cached file {dest} fails verification ({why}); offline mode never deletes the "
                    f"cache: re-run `{hint}` without --offline to replace it"
                )
            _quarantine(dest, why or "unknown")

        if from_dir is not None:
            src = _find_in(Path(from_dir), remote.name)
            if src is not None:
                return _copy_in(src, dest, remote, progress=progress)
            if offline:
                raise MissingDataError(f"{remote.name} is not in {from_dir} and offline mode may not download it")
            log.info("%s is not in %s; downloading it", remote.name, from_dir)
        if offline:
            raise MissingDataError(
                f"{remote.name} is not in the cache ({dest.parent}) and offline mode may not download "
                f"it; run `{hint}` (or `{hint} --from DIR` with the files you have)"
            )
        if not remote.urls:
            raise DownloadError(f"no URL known for {remote.name}")
        return _download(remote, dest, session or _session(), progress=progress, retries=retries, timeout=timeout)


@contextlib.contextmanager
def _locked(dest: Path) -> Iterator[None]:
    """Hold ``<dest>.lock``; say so when another process holds it and wait for it."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(file_lock(dest, blocking=False))
        except BlockingIOError:
            log.warning("another lhcad process is fetching %s; waiting for it", dest.name)
            stack.enter_context(file_lock(dest, blocking=True))
        yield


def _download(remote: RemoteFile, dest: Path, session: Any, *, progress: bool, retries: int,
              timeout: Any) -> FetchedFile:
    part = _partial_path(dest)
    _prepare_partial(dest, remote)
    errors: list[str] = []
    all_bad_content = True
    for url in remote.urls:
        for fresh in (False, True):
            resumed = part.exists() and part.stat().st_size > 0
            try:
                total = _http_to_partial(url, part, remote.size, session, name=remote.name,
                                         progress=progress, retries=retries, timeout=timeout)
            except _Permanent as exc:
                errors.append(f"{url}: {exc}")
                all_bad_content = False
                break
            size = part.stat().st_size if part.exists() else 0
            if remote.size is None and total is not None and size != total:
                part.unlink(missing_ok=True)
                errors.append(f"{url}: got {size} bytes, the server announced {total}")
                break
            try:
                return _finish(part, dest, remote, url)
            except ChecksumError as exc:
                errors.append(f"{url}: {exc}")
                if resumed and not fresh:
                    log.warning("%s: resumed file failed verification; downloading it again from scratch", remote.name)
                    continue
                break
    detail = "\n  ".join(errors)
    kind = ChecksumError if errors and all_bad_content else DownloadError
    raise kind(f"could not fetch {remote.name}; tried {len(remote.urls)} URL(s):\n  {detail}")


def _find_in(folder: Path, name: str) -> Path | None:
    if not folder.is_dir():
        raise DownloadError(f"--from folder {folder} does not exist")
    direct = folder / name
    if direct.is_file():
        return direct
    for candidate in sorted(folder.rglob(name)):
        if candidate.is_file():
            return candidate
    return None


def _copy_in(src: Path, dest: Path, remote: RemoteFile, *, progress: bool) -> FetchedFile:
    from tqdm.auto import tqdm

    part = _partial_path(dest)
    with open(src, "rb") as fin, open(part, "wb") as fout, tqdm(
        total=src.stat().st_size, unit="B", unit_scale=True, unit_divisor=1024,
        desc=f"{remote.name} (copy)", disable=not progress, leave=False,
    ) as bar:
        while block := fin.read(BLOCK * 64):
            fout.write(block)
            bar.update(len(block))
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copystat(src, part, follow_symlinks=True)
    return _finish(part, dest, remote, f"from:{src}")


def fetch_all(remotes: Sequence[RemoteFile], folder: Path, **kwargs: Any) -> dict[str, FetchedFile]:
    """:func:`fetch_file` for several files into ``folder`` (one shared HTTP session)."""
    kwargs.setdefault("session", None if kwargs.get("offline") else _session())
    return {r.name: fetch_file(r, folder / r.name, **kwargs) for r in remotes}
