"""zTOC reuse on a real registry (issue 9): what a second run reads, and how long it takes.

An image of four gzip layers (three base layers of real system files, ~``--base-mb`` MB
compressed each, cached in $SOCI_BENCH_DIR, and a ``--top-mb`` MB top layer) is pushed to a
local ``docker-registry`` (started by tests/fixtures/registry.py's code) and indexed through a
counting HTTP proxy, with a zTOC catalogue file. Then:

* a new tag with only the top layer changed is indexed: it may read at most the new top layer
  plus manifests and zTOC blobs, in at most 15% of the first run's wall time;
* the same new image in a second repository (base layers mounted, as ``docker push`` does):
  no base layer is streamed again (its zTOCs are mounted from the first repository).

Usage: ``.venv/bin/python bench/reuse.py [--base-mb 64] [--top-mb 12] [--workers 2]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers")]

from _common import CACHE, gzip_file  # noqa: E402
from index_parallel import make_layers  # noqa: E402

from soci_index_builder.oci import mediatypes as mt  # noqa: E402
from soci_index_builder.oci.model import Descriptor, Manifest, descriptor_for  # noqa: E402
from soci_index_builder.soci.build import build_image_index  # noqa: E402
from soci_index_builder.soci.catalogue.sqlite import SqliteCatalogue  # noqa: E402
from soci_index_builder.soci.model import BuildResult, IndexSettings  # noqa: E402
from soci_index_builder.store.remote.client import RegistryClient  # noqa: E402
from soci_index_builder.store.remote.repository import RemoteRepository  # noqa: E402
from tests.fixtures.registry import start_registry, stop_process  # noqa: E402

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class CountingProxy:
    """A forwarding HTTP proxy in front of the registry that counts response bytes per blob."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.blob_bytes: Counter[str] = Counter()
        self.manifest_bytes = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                proxy.forward(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.blob_bytes.clear()
            self.manifest_bytes = 0

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self.upstream)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        connection.request(handler.command, handler.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()  # blobs here are at most one layer: fine for a benchmark
        handler.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP | {"content-length"}:
                handler.send_header(key, value)
        handler.send_header(
            "Content-Length",
            str(
                len(data)
                if handler.command != "HEAD"
                else response.getheader("Content-Length") or 0
            ),
        )
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)
            self._count(handler.command, handler.path, len(data))

    def _count(self, method: str, path: str, size: int) -> None:
        if method != "GET":
            return
        with self._lock:
            if "/blobs/sha256:" in path:
                self.blob_bytes[path.rsplit("/", 1)[1].split("?")[0]] += size
            elif "/manifests/" in path:
                self.manifest_bytes += size

    def close(self) -> None:
        self.server.shutdown()


def top_layer(seed: int, megabytes: int) -> Path:
    """A gzip layer of ``megabytes`` MB of incompressible files (cached), one per ``seed``."""
    tar_path = CACHE / f"reuse-top{seed}-{megabytes}mb.tar"
    if not tar_path.with_suffix(".tar.gz").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        rng = random.Random(seed)
        with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
            for i in range(megabytes):
                info = tarfile.TarInfo(f"app/{seed}/part{i:04d}.bin")
                data = rng.randbytes(1 << 20)
                info.size = len(data)
                tar.addfile(info, _Bytes(data))
    return gzip_file(tar_path)


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        out, self._pos = self._data[self._pos : end], min(end, len(self._data))
        return out


def push(
    repo: RemoteRepository, tag: str, layers: list[Path], mount_from: str | None
) -> list[Descriptor]:
    """Push an image of ``layers`` (blobs mounted from ``mount_from`` when there)."""
    descriptors = []
    for path in layers:
        digest = _digest_of(path)
        if mount_from and repo.mount_blob(digest, mount_from):
            descriptors.append(Descriptor(mt.OCI_LAYER_TAR_GZIP, digest, path.stat().st_size))
            continue
        with open(path, "rb") as f:
            digest, size = repo.push_blob_stream(f)
        descriptors.append(Descriptor(mt.OCI_LAYER_TAR_GZIP, digest, size))
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    config_desc = descriptor_for(config, mt.OCI_IMAGE_CONFIG)
    repo.push_blob(config_desc.digest, config)
    manifest = Manifest(config=config_desc, layers=tuple(descriptors))
    repo.push_manifest(manifest.to_json(), mt.OCI_IMAGE_MANIFEST, tag)
    return descriptors


def _digest_of(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def run(
    proxy: CountingProxy, repo: str, tag: str, settings: IndexSettings, cache: Path
) -> tuple[BuildResult, float, Counter[str], int]:
    proxy.reset()
    client = RegistryClient(proxy.host, plain_http=True)
    start = time.perf_counter()
    result = build_image_index(
        client.repository(repo), tag, settings, catalogue=SqliteCatalogue(cache)
    )
    seconds = time.perf_counter() - start
    client.close()
    return result, seconds, Counter(proxy.blob_bytes), proxy.manifest_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-mb", type=int, default=64)
    parser.add_argument("--top-mb", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    base = make_layers(3, args.base_mb)
    top1, top2 = top_layer(1, args.top_mb), top_layer(2, args.top_mb)
    settings = IndexSettings(max_workers=args.workers)
    small = [p.name for p in [*base, top1, top2] if p.stat().st_size < settings.min_layer_size]
    if small:
        print(
            f"error: {', '.join(small)} compress below the minimum layer size of "
            f"{settings.min_layer_size / 2**20:.0f} MiB, so they would not be indexed and the "
            "run would measure nothing: use larger --base-mb / --top-mb",
            file=sys.stderr,
        )
        return 2
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="soci-bench-reuse-") as workdir:
        registry = start_registry(Path(workdir))
        proxy = CountingProxy(registry.host)
        try:
            direct = RegistryClient(registry.host, plain_http=True)
            first_repo, second_repo = (
                direct.repository("bench/app"),
                direct.repository("bench/other"),
            )
            image1 = push(first_repo, "1", [*base, top1], None)
            image2 = push(first_repo, "2", [*base, top2], None)
            push(second_repo, "2", [*base, top2], "bench/app")
            cache = Path(workdir) / "ztocs.sqlite"
            one, t1, read1, _ = run(proxy, "bench/app", "1", settings, cache)
            two, t2, read2, manifests2 = run(proxy, "bench/app", "2", settings, cache)
            three, t3, read3, _ = run(proxy, "bench/other", "2", settings, cache)
        finally:
            proxy.close()
            stop_process(registry.process)
    base_digests = {d.digest for d in image1[:3]}
    top2_desc = image2[3]
    ztocs = {layer.ztoc_digest for layer in two.layers if layer.ztoc_digest}
    allowed = {top2_desc.digest, *ztocs}
    extra = {d: n for d, n in read2.items() if d not in allowed and n > 4096}
    ztoc_bytes = sum(n for d, n in read2.items() if d in ztocs)
    figures = {
        "layers_mb": [round(d.size / 2**20, 1) for d in image1],
        "first_s": round(t1, 2),
        "first_read_mb": round(sum(read1.values()) / 2**20, 1),
        "second_s": round(t2, 2),
        "second_ratio": round(t2 / t1, 3),
        "second_read_mb": round(sum(read2.values()) / 2**20, 2),
        "second_layer_mb": round(read2[top2_desc.digest] / 2**20, 2),
        "second_ztoc_kb": round(ztoc_bytes / 1024, 1),
        "second_manifest_kb": round(manifests2 / 1024, 1),
        "second_statuses": [layer.status for layer in two.layers],
        "other_repo_s": round(t3, 2),
        "other_repo_base_read": sum(read3[d] for d in base_digests),
        "other_repo_statuses": [layer.status for layer in three.layers],
    }
    print(json.dumps(figures, indent=2))
    if one.status != "built" or [layer.status for layer in one.layers] != ["indexed"] * 4:
        problems.append(f"first run: {one.status} {[layer.status for layer in one.layers]}")
    if any(read2[d] for d in base_digests) or extra:
        problems.append(f"second run read more than the new layer and zTOCs: {extra}")
    if t2 > 0.15 * t1:
        problems.append(f"second run took {t2 / t1:.0%} of the first (target <= 15%)")
    if any(read3[d] for d in base_digests):
        problems.append("the second repository streamed a base layer again")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
