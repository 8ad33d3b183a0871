"""The inflate backend: zlib-ng when its wheel is usable, else the system ``libz.so.1``.

Everything that inflates (checkpointing, extraction, verify) goes through one
:class:`InflateBackend`, so nothing above this module knows which library runs. Both produce
the same bytes, checkpoints and ``data_type`` bits: checkpoints depend only on the compressed
stream (soci-format.md 4.2), and zlib-ng's inflate reports block ends exactly as zlib's
(docs/performance.md). zlib-ng is used only if its extension imports, exports every symbol,
accepts our struct size and inflates a known stream correctly; anything else falls back to
libz with one debug log line, never an error.
"""

from __future__ import annotations

import ctypes
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import _zlib, _zng
from ._zlib import DT_BOUNDARY, WBITS_GZIP, Z_BLOCK, Z_OK, Z_STREAM_END

_log = logging.getLogger(__name__)

#: A ctypes ``byref`` to a stream struct, as every call takes it.
Ref = Any


@dataclass(frozen=True, slots=True)
class InflateBackend:
    """zlib's inflate calls on one library, all taking ``ctypes.byref(stream)``.

    The stream structs differ between libraries but name their fields alike (``next_in``,
    ``avail_in``, ``next_out``, ``avail_out``, ``msg``, ``data_type``), which is all callers use.
    A stream must never be copied: the library's state points back at it.
    """

    name: str
    new_stream: Callable[[], ctypes.Structure]
    init: Callable[[Ref, int], int]  # (stream, windowBits) -> rc
    inflate: Callable[[Ref, int], int]  # (stream, flush) -> rc
    end: Callable[[Ref], int]
    reset: Callable[[Ref], int]
    prime: Callable[[Ref, int, int], int]  # (stream, bits, value)
    set_dictionary: Callable[[Ref, bytes, int], int]
    #: ``inflateValidate(stream, 0)`` stops the library computing and checking the CRC-32 of
    #: a member's data, so the checkpointer can check it on another thread (checkpoints.py).
    validate: Callable[[Ref, int], int]  # (stream, check) -> rc
    crc32: Callable[[int, int, int], int]  # (crc, address, length) -> crc; releases the GIL


def libz_backend() -> InflateBackend:
    """The system zlib (always available: CPython itself needs it)."""
    lib, version, size = _zlib.libz, _zlib.ZLIB_VERSION, _zlib.ZSTREAM_SIZE

    def init(ref: Ref, wbits: int) -> int:
        rc: int = lib.inflateInit2_(ref, wbits, version, size)
        return rc

    return InflateBackend(
        f"zlib {version.decode()}",
        _zlib.ZStream,
        init,
        lib.inflate,
        lib.inflateEnd,
        lib.inflateReset,
        lib.inflatePrime,
        lib.inflateSetDictionary,
        lib.inflateValidate,
        lib.crc32,
    )


def zlib_ng_backend(
    path: str | None = None, stream: type[ctypes.Structure] = _zng.ZngStream
) -> InflateBackend:
    """zlib-ng from the ``zlib_ng`` extension (or the library at ``path``), checked.

    Raises ImportError, OSError, AttributeError or RuntimeError when it cannot be used.
    ``stream`` is the struct to hand it (tests pass a wrong one to see it refused).
    """
    lib = _zng.bind(ctypes.CDLL(path or _zng.extension_path()), stream)
    version: bytes = lib.zlibng_version()
    size = ctypes.sizeof(stream)
    init2 = lib.zng_inflateInit2_

    def init(ref: Ref, wbits: int) -> int:
        rc: int = init2(ref, wbits, version, size)
        return rc

    backend = InflateBackend(
        f"zlib-ng {version.decode()}",
        stream,
        init,
        lib.zng_inflate,
        lib.zng_inflateEnd,
        lib.zng_inflateReset,
        lib.zng_inflatePrime,
        lib.zng_inflateSetDictionary,
        lib.zng_inflateValidate,
        lib.zng_crc32,
    )
    self_test(backend)
    return backend


def self_test(backend: InflateBackend) -> None:
    """Inflate a two-block gzip stream with ``Z_BLOCK``; RuntimeError unless exactly right.

    Catches a struct whose fields the library reads elsewhere (counters, ``data_type``).
    """
    data = bytes(range(256)) * 64
    comp = zlib.compressobj(6, zlib.DEFLATED, WBITS_GZIP)
    blob = comp.compress(data[:5000]) + comp.flush(zlib.Z_FULL_FLUSH)
    blob += comp.compress(data[5000:]) + comp.flush()
    src = ctypes.create_string_buffer(blob, len(blob))
    out = ctypes.create_string_buffer(len(data) + 64)
    strm = backend.new_stream()
    ref = ctypes.byref(strm)
    if backend.init(ref, WBITS_GZIP) != Z_OK:
        raise RuntimeError(f"{backend.name}: inflateInit refused the stream struct")
    try:
        strm.next_in, strm.avail_in = ctypes.addressof(src), len(blob)
        strm.next_out, strm.avail_out = ctypes.addressof(out), len(out)
        boundaries, rc = 0, Z_OK
        for _ in range(64):
            rc = backend.inflate(ref, Z_BLOCK)
            if rc != Z_OK:
                break
            boundaries += bool(strm.data_type & DT_BOUNDARY)
        made = len(out) - strm.avail_out
        if (
            rc != Z_STREAM_END
            or strm.avail_in != 0
            or made != len(data)
            or out.raw[:made] != data
            or boundaries < 2
            or backend.crc32(0, ctypes.addressof(out), made) != zlib.crc32(data)
        ):
            raise RuntimeError(f"{backend.name}: self-test inflate gave wrong results")
    finally:
        backend.end(ref)


def load_backend(
    path: str | None = None, stream: type[ctypes.Structure] = _zng.ZngStream
) -> InflateBackend:
    """zlib-ng if usable, else libz (saying why at debug level, once); arguments as
    :func:`zlib_ng_backend`'s."""
    try:
        return zlib_ng_backend(path, stream)
    except (ImportError, OSError, AttributeError, RuntimeError) as exc:
        _log.debug("zlib-ng unavailable (%s), inflating with the system libz", exc)
        return libz_backend()


#: The backend every inflate uses unless one is passed explicitly (chosen once, at import).
DEFAULT_BACKEND = load_backend()
