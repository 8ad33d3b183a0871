"""zstd layers re-encoded to gzip on the fly (``--recompress-zstd``), uploaded and indexed at once.

One pass, nothing on disk, bounded memory: the zstd blob streams from the registry through a
zstd decoder and a deterministic gzip encoder (zlib level 6, header mtime 0); the gzip bytes
feed the zTOC builder in this thread and, through a bounded queue, the blob upload in another.
The config and its diff_ids stay valid: the tar inside is unchanged.
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections.abc import Callable
from typing import IO, Any, cast

from ..errors import DigestMismatchError, SociError
from ..oci import mediatypes
from ..oci.model import Descriptor
from ..store.base import Repository
from ..streams import Readable
from ..ztoc.builder import BuiltZtoc, build_ztoc
from ..ztoc.model import CompressionAlgorithm
from .model import IndexSettings
from .plan import LayerPlan

#: Fixed so the same zstd layer always gives the same gzip digest (gzip's own default).
GZIP_LEVEL = 6
_CHUNK = 1 << 20
#: Chunks in flight between the zTOC builder and the upload: bounds memory to a few MiB.
_QUEUE_DEPTH = 4
_EOF = b""


def gzip_media_type(zstd_media_type: str) -> str:
    """The gzip twin of a zstd layer media type (OCI; nondistributable kept)."""
    if zstd_media_type.startswith(mediatypes.OCI_LAYER_NONDISTRIBUTABLE_TAR):
        return mediatypes.OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP
    return mediatypes.OCI_LAYER_TAR_GZIP


class ZstdToGzip:
    """Readable gzip stream of a zstd stream; deterministic bytes (zlib header mtime 0)."""

    def __init__(self, source: Readable) -> None:
        import zstandard  # lazily: only this path needs it

        self._zstd: Any = zstandard.ZstdDecompressor().stream_reader(
            cast("IO[bytes]", _FileLike(source)), read_across_frames=True
        )
        self._gzip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        self._pending = b""
        self._done = False

    def readinto(self, buffer: bytearray | memoryview) -> int:
        while not self._pending and not self._done:
            tar = self._zstd.read(_CHUNK)
            if tar:
                self._pending = self._gzip.compress(tar)
            else:
                self._pending = self._gzip.flush()
                self._done = True
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class _FileLike:
    """``read(n)`` over a Readable, what zstandard's stream_reader expects."""

    def __init__(self, source: Readable) -> None:
        self._source = source

    def read(self, size: int = _CHUNK) -> bytes:
        buf = bytearray(size if size > 0 else _CHUNK)
        n = self._source.readinto(buf)
        return bytes(buf[:n])


class _Tee:
    """Passes reads through and copies each chunk to a bounded queue for the uploader."""

    def __init__(self, source: Readable, sink: queue.Queue[bytes | BaseException]) -> None:
        self._source = source
        self._sink = sink
        self._closed = False

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = self._source.readinto(buffer)
        if n:
            self._sink.put(bytes(memoryview(buffer)[:n]))
        elif not self._closed:  # readers may ask again after EOF; the uploader hears it once
            self._closed = True
            self._sink.put(_EOF)
        return n


class _QueueReader:
    """The uploader's side of the queue; an exception in the queue aborts the upload."""

    def __init__(self, source: queue.Queue[bytes | BaseException]) -> None:
        self._source = source
        self._pending = b""
        self._eof = False

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if not self._pending and not self._eof:
            item = self._source.get()
            if isinstance(item, BaseException):
                raise item
            self._pending, self._eof = item, item == _EOF
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class _Counting:
    """Reports compressed (zstd) bytes read, so progress and deadlines track the source."""

    def __init__(self, source: Readable, callback: Callable[[int], None]) -> None:
        self._source = source
        self._callback = callback
        self._done = 0

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = self._source.readinto(buffer)
        self._done += n
        self._callback(self._done)
        return n


def recompress_and_build(
    repo: Repository, plan: LayerPlan, settings: IndexSettings, on_progress: Callable[[int], None]
) -> tuple[BuiltZtoc, Descriptor]:
    """Stream the zstd layer once: push its gzip re-encoding and build that blob's zTOC."""
    pipe: queue.Queue[bytes | BaseException] = queue.Queue(_QUEUE_DEPTH)
    upload: dict[str, Any] = {}

    def uploader() -> None:
        try:
            upload["result"] = repo.push_blob_stream(_QueueReader(pipe))
        except BaseException as exc:  # re-raised in the caller's thread
            upload["error"] = exc
            _drain(pipe)

    thread = threading.Thread(target=uploader, name=f"upload-{plan.digest[7:19]}", daemon=True)
    thread.start()
    try:
        with repo.open_blob(plan.digest, plan.size) as zstd:
            gzip_stream = _Tee(ZstdToGzip(_Counting(zstd, on_progress)), pipe)
            ztoc = build_ztoc(
                gzip_stream,
                compression=CompressionAlgorithm.GZIP,
                span_size=settings.span_size,
                build_tool_identifier=settings.build_tool_identifier,
            )
    except BaseException as exc:
        pipe.put(SociError(f"recompression of {plan.digest} failed: {exc}"))
        thread.join()
        raise
    thread.join()
    if "error" in upload:
        raise upload["error"]
    digest, size = upload["result"]
    if (digest, size) != (ztoc.layer_digest, ztoc.compressed_size):
        raise DigestMismatchError(ztoc.layer_digest, digest, "recompressed layer upload")
    return ztoc, Descriptor(gzip_media_type(plan.media_type), digest, size)


def _drain(pipe: queue.Queue[bytes | BaseException]) -> None:
    """After a failed upload keep accepting chunks, so the builder never blocks on put."""
    while True:
        item = pipe.get()
        if isinstance(item, BaseException) or item == _EOF:
            return
