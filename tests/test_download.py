"""Downloader against a loopback HTTP server (Range support, injected faults), and fetch_dataset.

Every fault ends in a verified file or a clear error, never in a corrupt cache entry.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmark.sources import download as dl
from benchmark.sources.download import (
    ChecksumError,
    DownloadError,
    MissingDataError,
    RemoteFile,
    UnverifiedFileWarning,
    fetch_file,
)

pytestmark = pytest.mark.network


# -- loopback server -----------------------------------------------------------------------------
class Server:
    """Serves ``files`` (URL path -> bytes) with Range support; ``faults`` are consumed per request.

    Faults per path, in order: ``500``, ``404``, ``("drop", n)`` (announce the full length, send
    ``n`` bytes, close), ``("truncate", n)`` (serve only the first ``n`` bytes, honestly), and
    ``("slow", seconds)`` (stream slowly; not consumed).
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list] = {}
        self.slow: dict[str, float] = {}
        self.api: dict[str, dict] = {}
        self.log: list[tuple[str, str | None, int]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                path = self.path.split("?", 1)[0]
                rng = self.headers.get("Range")
                with server.lock:
                    fault = server.faults.get(path, []).pop(0) if server.faults.get(path) else None
                if path in server.api:
                    body = json.dumps(server.api[path]).encode()
                    return self._send(200, body, rng, {"Content-Type": "application/json"})
                if fault == 500:
                    return self._send(500, b"boom", rng)
                if fault == 404 or path not in server.files:
                    return self._send(404, b"not found", rng)
                data = server.files[path]
                if isinstance(fault, tuple) and fault[0] == "truncate":
                    data = data[: fault[1]]
                start = 0
                if rng:
                    m = re.match(r"bytes=(\d+)-(\d*)", rng)
                    start = int(m.group(1))
                    if start >= len(data):
                        server.log.append((path, rng, 416))  # before answering: the client moves on at once
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                body = data[start:]
                status = 206 if rng else 200
                server.log.append((path, rng, status))
                self.send_response(status)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if isinstance(fault, tuple) and fault[0] == "drop":
                    self.wfile.write(body[: fault[1]])
                    self.wfile.flush()
                    return  # HTTP/1.0: the connection closes here, short of Content-Length
                delay = server.slow.get(path, 0.0)
                step = max(len(body) // 10, 1)
                for i in range(0, len(body), step):
                    self.wfile.write(body[i:i + step])
                    if delay:
                        time.sleep(delay / 10)

            def _send(self, status, body, rng, headers=None):
                # logged before answering, so the log order is the order of the client's requests
                server.log.append((self.path.split("?", 1)[0], rng, status))
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def gets(self, path: str) -> list[tuple[str, str | None, int]]:
        return [e for e in self.log if e[0] == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    srv = Server()
    monkeypatch.setattr(dl, "BACKOFF", 0.001)
    monkeypatch.setattr(dl, "TIMEOUT", (5.0, 5.0))
    monkeypatch.setenv(dl.ENV_ZENODO_API, srv.base + "/api/records")
    monkeypatch.delenv(dl.ENV_MIRROR, raising=False)
    dl.clear_zenodo_cache()
    yield srv
    srv.close()
    dl.clear_zenodo_cache()


def payload(n: int = 300_000, seed: int = 0) -> bytes:
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def cache_clean(dest: Path) -> None:
    """No partial or temporary leftovers beside ``dest`` (lock and record files are fine)."""
    leftovers = [p.name for p in dest.parent.iterdir() if p.name.endswith((".partial", ".part"))]
    assert not leftovers, leftovers


# -- downloads -----------------------------------------------------------------------------------
def test_download_verifies_pinned_md5_and_records_it(server, tmp_path):
    data = payload()
    server.files["/f.bin"] = data
    remote = RemoteFile("f.bin", (server.url("/f.bin"),), md5=md5(data), checksum_source="registry")
    got = fetch_file(remote, tmp_path / "raw" / "f.bin", progress=False)
    assert got.path.read_bytes() == data
    assert got.verified and got.checksum_source == "registry" and got.md5 == md5(data)
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    record = json.loads((tmp_path / "raw" / ".f.bin.verified.json").read_text())
    assert record["md5"] == md5(data) and record["verified"] is True
    cache_clean(got.path)
    # a second call is served from the cache without any request
    n = len(server.log)
    again = fetch_file(remote, tmp_path / "raw" / "f.bin", progress=False)
    assert again.md5 == got.md5 and len(server.log) == n


def test_dropped_connection_resumes_with_range(server, tmp_path):
    data = payload()
    server.files["/f.bin"] = data
    server.faults["/f.bin"] = [("drop", 120_000), ("drop", 100_000)]
    remote = RemoteFile("f.bin", (server.url("/f.bin"),), md5=md5(data))
    got = fetch_file(remote, tmp_path / "f.bin", progress=False)
    assert got.path.read_bytes() == data
    ranges = [r for _, r, _ in server.gets("/f.bin")]
    assert len(ranges) == 3 and ranges[0] is None
    # each retry resumes where the last one stopped (less the block that was being read)
    starts = [int(re.match(r"bytes=(\d+)-", r).group(1)) for r in ranges[1:]]
    assert 0 < starts[0] <= 120_000 and starts[0] < starts[1] <= starts[0] + 100_000
    cache_clean(got.path)


def test_server_errors_are_retried_with_backoff(server, tmp_path):
    data = payload()
    server.files["/f.bin"] = data
    server.faults["/f.bin"] = [500, 500, 500]
    got = fetch_file(RemoteFile("f.bin", (server.url("/f.bin"),), md5=md5(data)), tmp_path / "f.bin", progress=False)
    assert got.verified
    assert [s for _, _, s in server.gets("/f.bin")] == [500, 500, 500, 200]


def test_persistent_server_errors_end_in_a_clear_error(server, tmp_path):
    server.files["/f.bin"] = payload()
    server.faults["/f.bin"] = [500] * 50
    with pytest.raises(DownloadError, match=r"f\.bin.*HTTP 500"):
        fetch_file(RemoteFile("f.bin", (server.url("/f.bin"),)), tmp_path / "f.bin", progress=False, retries=2)
    assert not (tmp_path / "f.bin").exists()


def test_wrong_checksum_never_enters_the_cache(server, tmp_path):
    data = payload()
    server.files["/f.bin"] = data
    remote = RemoteFile("f.bin", (server.url("/f.bin"),), md5="0" * 32, checksum_source="registry")
    with pytest.raises(ChecksumError, match=r"f\.bin.*md5 .*expected 0{32}"):
        fetch_file(remote, tmp_path / "f.bin", progress=False)
    assert not (tmp_path / "f.bin").exists()
    cache_clean(tmp_path / "f.bin")


def test_truncated_file_is_rejected_then_taken_from_a_mirror(server, tmp_path):
    data = payload()
    server.files["/a/f.bin"] = data
    server.files["/b/f.bin"] = data
    server.faults["/a/f.bin"] = [("truncate", 100_000)] * 5
    remote = RemoteFile("f.bin", (server.url("/a/f.bin"),), size=len(data))
    with pytest.raises(ChecksumError, match=r"size 100000 bytes, expected 300000"):
        fetch_file(remote, tmp_path / "f.bin", progress=False)
    assert not (tmp_path / "f.bin").exists()
    remote = RemoteFile("f.bin", (server.url("/a/f.bin"), server.url("/b/f.bin")), size=len(data))
    with pytest.warns(UnverifiedFileWarning):
        got = fetch_file(remote, tmp_path / "f.bin", progress=False)
    assert got.path.read_bytes() == data and not got.verified  # size only: no checksum known


def test_truncated_cache_entry_is_quarantined_and_refetched(server, tmp_path):
    data = payload()
    server.files["/f.bin"] = data
    remote = RemoteFile("f.bin", (server.url("/f.bin"),), md5=md5(data))
    dest = tmp_path / "f.bin"
    fetch_file(remote, dest, progress=False)
    with open(dest, "r+b") as f:
        f.truncate(1000)
    got = fetch_file(remote, dest, progress=False)
    assert got.path.read_bytes() == data
    assert (tmp_path / "f.bin.corrupt").stat().st_size == 1000


def test_offline_never_deletes_and_says_what_to_run(server, tmp_path):
    data = payload()
    remote = RemoteFile("f.bin", (server.url("/f.bin"),), md5=md5(data))
    with pytest.raises(MissingDataError, match="lhcad fetch top"):
        fetch_file(remote, tmp_path / "f.bin", offline=True, fetch_hint="lhcad fetch top")
    (tmp_path / "f.bin").write_bytes(data[:10])
    with pytest.raises(DownloadError, match="offline mode never deletes"):
        fetch_file(remote, tmp_path / "f.bin", offline=True)
    assert (tmp_path / "f.bin").read_bytes() == data[:10]
    assert server.log == []


def test_concurrent_fetches_share_one_download(server, tmp_path):
    data = payload(400_000)
    server.files["/f.bin"] = data
    server.slow["/f.bin"] = 0.5
    remote = RemoteFile("f.bin", (server.url("/f.bin"),), md5=md5(data))
    results, errors = [], []

    def run():
        try:
            results.append(fetch_file(remote, tmp_path / "f.bin", progress=False))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(results) == 2
    assert all(r.md5 == md5(data) for r in results)
    assert len(server.gets("/f.bin")) == 1  # the second waited for the lock, then found the file
    cache_clean(tmp_path / "f.bin")


def test_stale_partial_of_another_version_is_discarded(server, tmp_path):
    data = payload()
    server.files["/f.bin"] = data
    (tmp_path / ".f.bin.partial").write_bytes(b"x" * 5000)
    (tmp_path / ".f.bin.partial.json").write_text(json.dumps({"size": 1, "md5": "ab", "sha256": None}))
    got = fetch_file(RemoteFile("f.bin", (server.url("/f.bin"),), md5=md5(data)), tmp_path / "f.bin", progress=False)
    assert got.path.read_bytes() == data
    assert server.gets("/f.bin")[0][1] is None  # no Range: started from scratch


def test_corrupt_resumed_partial_is_downloaded_again_from_scratch(server, tmp_path):
    data = payload()
    server.files["/f.bin"] = data
    remote = RemoteFile("f.bin", (server.url("/f.bin"),), md5=md5(data))
    (tmp_path / ".f.bin.partial").write_bytes(b"x" * 5000)  # same version, garbage bytes
    (tmp_path / ".f.bin.partial.json").write_text(json.dumps({"size": None, "md5": md5(data), "sha256": None}))
    got = fetch_file(remote, tmp_path / "f.bin", progress=False)
    assert got.path.read_bytes() == data
    assert [r for _, r, _ in server.gets("/f.bin")] == ["bytes=5000-", None]


def test_mirrors_are_tried_in_order(server, tmp_path):
    data = payload()
    server.files["/m2/f.bin"] = data
    remote = RemoteFile("f.bin", (server.url("/m1/f.bin"), server.url("/m2/f.bin")), md5=md5(data))
    got = fetch_file(remote, tmp_path / "f.bin", progress=False)
    assert got.origin == server.url("/m2/f.bin")
    assert [p for p, _, _ in server.log] == ["/m1/f.bin", "/m2/f.bin"]


def test_zenodo_api_checksum_is_used_and_recorded(server, tmp_path):
    data = payload()
    server.files["/records/77/files/f.bin"] = data
    server.api["/api/records/77"] = {"files": [{"key": "f.bin", "size": len(data), "checksum": f"md5:{md5(data)}",
                                                "links": {"self": server.url("/records/77/files/f.bin")}}]}
    info = dl.zenodo_record(77)
    assert info["f.bin"] == {"size": len(data), "md5": md5(data), "url": server.url("/records/77/files/f.bin")}
    assert dl.zenodo_record_id("https://zenodo.org/records/2603256/files/train.h5?download=1") == 2603256
    remote = RemoteFile("f.bin", (info["f.bin"]["url"],), size=len(data), md5=md5(data), checksum_source="zenodo")
    got = fetch_file(remote, tmp_path / "f.bin", progress=False)
    assert got.verified and got.checksum_source == "zenodo"


def test_from_dir_verifies_pinned_checksums(server, tmp_path):
    data = payload()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "f.bin").write_bytes(data)
    got = fetch_file(RemoteFile("f.bin", (), md5=md5(data), checksum_source="registry"), tmp_path / "c" / "f.bin",
                     from_dir=mine, offline=True, progress=False)
    assert got.verified and got.origin.startswith("from:") and got.path.read_bytes() == data
    with pytest.raises(ChecksumError, match="from:"):
        fetch_file(RemoteFile("f.bin", (), md5="1" * 32), tmp_path / "d" / "f.bin", from_dir=mine, offline=True)
    assert not (tmp_path / "d" / "f.bin").exists()
    assert server.log == []


def test_from_dir_without_any_checksum_is_accepted_unverified(server, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "f.bin").write_bytes(b"hello")
    with pytest.warns(UnverifiedFileWarning, match="UNVERIFIED"):
        got = fetch_file(RemoteFile("f.bin"), tmp_path / "c" / "f.bin", from_dir=mine, progress=False)
    assert not got.verified and got.checksum_source is None and got.warnings
    # the recorded checksum protects the cache entry from now on, even offline
    (tmp_path / "c" / "f.bin").write_bytes(b"HELLO")
    with pytest.raises(DownloadError, match="fails verification"):
        fetch_file(RemoteFile("f.bin"), tmp_path / "c" / "f.bin", offline=True)


# -- fetch_dataset end to end --------------------------------------------------------------------
REGISTRY = """
schema: 1
datasets:
  top:
    title: top fixture
    kind: jets
    classes:
      qcd: {{role: background}}
      top: {{role: signal}}
    sources:
      real:
        version: "fixture-1"
        format: toptagging
        zenodo: 2603256
        files:
          - {{name: train.h5, url: "{base}/records/2603256/files/train.h5?download=1"}}
          - {{name: val.h5, url: "{base}/records/2603256/files/val.h5?download=1"}}
          - {{name: test.h5, url: "{base}/records/2603256/files/test.h5?download=1"}}
        mirrors: ["{base}/desy/{{name}}"]
  lhco:
    title: lhco fixture
    kind: dijet
    classes:
      background: {{role: background}}
      signal: {{role: signal}}
      signal_qqq: {{role: signal}}
      extra_qcd: {{role: background}}
    sources:
      real:
        version: "fixture-1"
        format: lhco
        files:
          - {{name: events_anomalydetection_v2.h5, url: "{base}/records/6466204/files/events_anomalydetection_v2.h5?download=1", sha256: {rnd_sha}}}
          - {{name: events_anomalydetection_v2.features.h5, url: "{base}/records/4536377/files/events_anomalydetection_v2.features.h5?download=1", md5: {feat_md5}}}
          - {{name: events_anomalydetection_Z_XY_qqq.h5, url: "{base}/records/4536377/files/events_anomalydetection_Z_XY_qqq.h5?download=1", md5: {qqq_md5}}}
          - {{name: events_anomalydetection_qcd_extra_inneronly_features.h5, url: "{base}/records/5759087/files/events_anomalydetection_qcd_extra_inneronly_features.h5?download=1"}}
  darkmachines:
    title: dm fixture
    kind: objects
    classes:
      chan1/background: {{role: background}}
      chan1/monojet_Zp2000.0_DM_50.0: {{role: signal}}
      chan2a/background: {{role: background}}
      chan2a/pp23mt_50: {{role: signal}}
    sources:
      real:
        version: "fixture-1"
        format: darkmachines
        files:
          - {{name: training_files.tar, url: "{base}/dm/training_files.tar", md5: {dm_md5}}}
"""


@pytest.fixture
def fixture_registry(server, tmp_path, monkeypatch):
    from benchmark.sources import darkmachines, lhco, toptagging

    up = tmp_path / "upstream"
    blobs = {}
    for i, (name, ttv) in enumerate((("train.h5", 0), ("val.h5", 2), ("test.h5", 1))):
        p = toptagging.write_fixture(up / name, 40, seed=i, ttv=ttv, max_constituents=30)
        blobs[name] = p.read_bytes()
        server.files[f"/records/2603256/files/{name}"] = blobs[name]
    server.api["/api/records/2603256"] = {"files": [
        {"key": n, "size": len(b), "checksum": f"md5:{md5(b)}",
         "links": {"self": server.url(f"/api/records/2603256/files/{n}/content")}} for n, b in blobs.items()]}
    tar = darkmachines.write_fixture(up / "training_files.tar")
    server.files["/dm/training_files.tar"] = tar.read_bytes()
    rnd, _ = lhco.write_raw_fixture(up / "events_anomalydetection_v2.h5", 20, seed=1, signal_fraction=0.3)
    qqq, _ = lhco.write_raw_fixture(up / "events_anomalydetection_Z_XY_qqq.h5", 6, seed=2, labelled=False)
    feat = lhco.write_features_fixture(up / "events_anomalydetection_v2.features.h5", 40)
    extra = lhco.write_features_fixture(up / "events_anomalydetection_qcd_extra_inneronly_features.h5", 25,
                                        labelled=False)
    for rec, p in ((6466204, rnd), (4536377, qqq), (4536377, feat), (5759087, extra)):
        server.files[f"/records/{rec}/files/{p.name}"] = p.read_bytes()
    server.api["/api/records/5759087"] = {"files": [{"key": extra.name, "size": extra.stat().st_size,
                                                     "checksum": f"md5:{md5(extra.read_bytes())}", "links": {}}]}
    reg = tmp_path / "datasets.yaml"
    reg.write_text(REGISTRY.format(base=server.base, dm_md5=md5(tar.read_bytes()),
                                   rnd_sha=hashlib.sha256(rnd.read_bytes()).hexdigest(),
                                   feat_md5=md5(feat.read_bytes()), qqq_md5=md5(qqq.read_bytes())))
    monkeypatch.setenv("LHCAD_REGISTRY", str(reg))
    return up


def test_fetch_dataset_downloads_verifies_converts_and_summarises(fixture_registry, server, tmp_path):
    from benchmark.events import EventSet
    from benchmark.sources import fetch_dataset

    data = tmp_path / "cache"
    out = fetch_dataset("top", data_dir=data, progress=False)
    assert set(out) == {"qcd", "top"}
    assert out["qcd"] == data / "top" / "real" / "qcd.h5"
    summary = json.loads((data / "top" / "real" / "summary.json").read_text())
    assert summary["raw"]["train.h5"]["checksum_source"] == "zenodo" and summary["raw"]["train.h5"]["verified"]
    assert summary["classes"]["qcd"]["count"] + summary["classes"]["top"]["count"] == 120
    assert summary["classes"]["top"]["sha256"] and summary["version"] == "fixture-1"
    es = EventSet.load(out["top"])
    assert sorted(set(es["split"].tolist())) == [0, 1, 2]
    assert not (data / "top" / "real" / ".chunks" / "toptagging").exists()  # chunks merged and removed
    n = len(server.log)
    again = fetch_dataset("top", data_dir=data, progress=False)
    assert again == out
    assert all(p.startswith("/api/") for p, _, _ in server.log[n:])  # only the records API was asked


def test_fetch_dataset_lhco_fixed_format_blosc_files(fixture_registry, server, tmp_path):
    from benchmark.events import EventSet
    from benchmark.sources import fetch_dataset

    out = fetch_dataset("lhco", data_dir=tmp_path / "cache", progress=False)
    assert set(out) == {"background", "signal", "signal_qqq", "extra_qcd"}
    summary = json.loads((tmp_path / "cache" / "lhco" / "real" / "summary.json").read_text())
    raw = summary["raw"]
    assert raw["events_anomalydetection_v2.h5"]["checksum_source"] == "registry"
    assert raw["events_anomalydetection_qcd_extra_inneronly_features.h5"]["checksum_source"] == "zenodo"
    assert all(r["verified"] for r in raw.values())
    assert summary["classes"]["signal_qqq"]["count"] == 6 and summary["classes"]["extra_qcd"]["count"] == 25
    assert set(summary["extras"]) == {"features/background", "features/signal"}
    assert EventSet.load(out["signal"])["constituents"].shape[1:] == (2, 279, 4)
    assert EventSet.load(out["extra_qcd"]).names == ["jet_nsubjettiness", "jets", "mjj", "weights"]


def test_fetch_dataset_uses_the_site_mirror_first(fixture_registry, server, tmp_path, monkeypatch):
    from benchmark.sources import fetch_dataset

    for name in ("train.h5", "val.h5", "test.h5"):
        server.files[f"/site/top/{name}"] = server.files[f"/records/2603256/files/{name}"]
    monkeypatch.setenv("LHCAD_MIRROR", server.url("/site"))
    fetch_dataset("top", data_dir=tmp_path / "cache", progress=False, convert=False)
    got = [p for p, _, _ in server.log if not p.startswith("/api/")]
    assert got == ["/site/top/train.h5", "/site/top/val.h5", "/site/top/test.h5"]


def test_fetch_dataset_from_dir_offline_and_darkmachines(fixture_registry, server, tmp_path):
    from benchmark.events import EventSet
    from benchmark.sources import fetch_dataset

    out = fetch_dataset("darkmachines", data_dir=tmp_path / "cache", from_dir=fixture_registry, offline=True,
                        progress=False)
    assert server.log == []
    assert set(out) == {"chan1/background", "chan1/monojet_Zp2000.0_DM_50.0", "chan2a/background", "chan2a/pp23mt_50"}
    assert out["chan1/background"] == tmp_path / "cache" / "darkmachines" / "real" / "chan1" / "background.h5"
    es = EventSet.load(out["chan2a/pp23mt_50"])
    assert len(es) == 30 and es.meta["signal"] == "pp23mt_50" and es.meta["channel"] == "chan2a"
    assert EventSet.load(out["chan1/background"]).meta["luminosity_fb"] == pytest.approx(7.79)


def test_concurrent_fetch_dataset_runs_convert_once(fixture_registry, server, tmp_path):
    from benchmark.sources import fetch_dataset

    results, errors = [], []

    def run():
        try:
            results.append(fetch_dataset("darkmachines", data_dir=tmp_path / "cache", progress=False))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 2 and results[0] == results[1]
    assert len(server.gets("/dm/training_files.tar")) == 1
    summary = json.loads((tmp_path / "cache" / "darkmachines" / "real" / "summary.json").read_text())
    assert summary["classes"]["chan1/background"]["count"] == 200


def test_fetch_dataset_offline_without_data_names_the_command(fixture_registry, tmp_path):
    from benchmark.sources import fetch_dataset, missing_data_message

    with pytest.raises(MissingDataError, match="lhcad fetch top"):
        fetch_dataset("top", data_dir=tmp_path / "cache", offline=True, progress=False)
    msg = missing_data_message("top")
    assert "lhcad fetch top" in msg and "train.h5" in msg and "--mirror" in msg
    assert "lhcad generate top" in missing_data_message("top", source="generated")


def test_fetch_dataset_unreachable_api_and_no_checksum_is_recorded_unverified(fixture_registry, server, tmp_path,
                                                                            monkeypatch):
    from benchmark.sources import fetch_dataset

    monkeypatch.setenv(dl.ENV_ZENODO_API, "http://127.0.0.1:9/api/records")  # nothing listens there
    monkeypatch.setattr(dl, "RETRIES", 0)
    dl.clear_zenodo_cache()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fetch_dataset("top", data_dir=tmp_path / "cache", progress=False)
    assert any(issubclass(w.category, UnverifiedFileWarning) for w in caught)
    summary = json.loads((tmp_path / "cache" / "top" / "real" / "summary.json").read_text())
    assert summary["raw"]["train.h5"]["verified"] is False
    assert any("Zenodo records API not available" in w for w in summary["warnings"])


def test_fetch_darkmachines_from_a_folder_of_loose_csv_files(fixture_registry, server, tmp_path):
    """People download the challenge's CSV files one by one: --from DIR takes them without the tar."""
    import tarfile

    from benchmark.events import EventSet
    from benchmark.sources import fetch_dataset

    loose = tmp_path / "downloads"
    with tarfile.open(fixture_registry / "training_files.tar") as tf:
        for member in tf.getmembers():
            if member.isfile():
                target = loose / Path(member.name).relative_to("training_files")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tf.extractfile(member).read())
    (loose / "README.txt").write_text("not a CSV: ignored\n")
    out = fetch_dataset("darkmachines", data_dir=tmp_path / "cache", from_dir=loose, offline=True, progress=False)
    assert server.log == []
    assert set(out) == {"chan1/background", "chan1/monojet_Zp2000.0_DM_50.0", "chan2a/background", "chan2a/pp23mt_50"}
    assert len(EventSet.load(out["chan2a/pp23mt_50"])) == 30
    raw = tmp_path / "cache" / "darkmachines" / "real" / "raw"
    assert (raw / "pp23mt_50_chan2a.csv").is_file() and not (raw / "training_files.tar").exists()
    # a second file of the same name in another folder is ambiguous: named, not guessed
    (loose / "copy").mkdir()
    (loose / "copy" / "pp23mt_50_chan2a.csv").write_text("")
    with pytest.raises(Exception, match="two files named pp23mt_50_chan2a.csv"):
        fetch_dataset("darkmachines", data_dir=tmp_path / "cache2", from_dir=loose, offline=True, progress=False)


def test_fetch_darkmachines_from_the_real_chan1_files(real_samples, tmp_path):
    from benchmark.sources import fetch_dataset

    out = fetch_dataset("darkmachines", data_dir=tmp_path / "cache", from_dir=real_samples / "darkmachines",
                        offline=True, progress=False)
    assert {"chan1/background", "chan1/monotop_200_A", "chan1/sqsq_sq1800_neut800"} <= set(out)
