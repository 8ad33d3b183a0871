"""Random access into a gzip layer from a checkpoint, the way the snapshotter reads it.

soci-format.md 4.4: the snapshotter fetches a span's compressed bytes ``[start, end)``, inflates
them in raw mode after priming the ``bits`` of the first byte and setting the checkpoint window
as dictionary, and skips to the wanted offset. Across a gzip member end (4.3) it skips the
8-byte trailer once and carries on in gzip mode, which parses the next member's header.
"""

from __future__ import annotations

import ctypes

from ..errors import GzipFormatError
from ._zlib import WBITS_GZIP, WBITS_RAW, Z_BUF_ERROR, Z_NO_FLUSH, Z_OK, Z_STREAM_END
from .backend import DEFAULT_BACKEND, InflateBackend
from .model import WINDOW_SIZE, Checkpoint

_TRAILER_SIZE = 8


def open_stream(
    wbits: int, backend: InflateBackend, strm: ctypes.Structure | None = None
) -> ctypes.Structure:
    """A stream (new, or ``strm`` re-used in place) initialised for inflate with ``wbits``.

    Free it with ``backend.end``. In place matters: the library's state points back at the
    struct, so a stream must never be copied.
    """
    strm = backend.new_stream() if strm is None else strm
    rc = backend.init(ctypes.byref(strm), wbits)
    if rc != Z_OK:
        raise MemoryError(f"inflateInit2 failed ({rc})")
    return strm


def zlib_message(strm: ctypes.Structure, rc: int) -> str:
    """zlib's own words for an error return, for error messages."""
    msg = strm.msg
    return msg.decode("ascii", "replace") if msg else f"zlib error {rc}"


def inflate_from_checkpoint(
    compressed: bytes,
    checkpoint: Checkpoint,
    skip: int,
    length: int,
    backend: InflateBackend = DEFAULT_BACKEND,
) -> bytes:
    """Inflate ``length`` bytes starting ``skip`` bytes after ``checkpoint``.

    ``compressed`` are the blob bytes from the span's compressed start (``in - 1`` when
    ``bits``) up to any later point. Raises GzipFormatError when they run out first.
    """
    if skip < 0 or length < 0:
        raise ValueError("skip and length must not be negative")
    if length == 0:
        return b""
    if len(checkpoint.window) != WINDOW_SIZE:
        raise ValueError(f"checkpoint window must be {WINDOW_SIZE} bytes")
    data = bytes(compressed)
    strm = open_stream(WBITS_RAW, backend)
    try:
        _prime(backend, strm, data, checkpoint)
        return _Resumer(backend, strm, data).run(skip, length)
    finally:
        backend.end(ctypes.byref(strm))


def _prime(backend: InflateBackend, strm: ctypes.Structure, data: bytes, cp: Checkpoint) -> None:
    """Load the partial first byte and the window, then point the stream at the data."""
    ref = ctypes.byref(strm)
    start = 0
    if cp.bits:
        if not data:
            raise GzipFormatError("no compressed data to resume from", offset=cp.compressed_offset)
        backend.prime(ref, cp.bits, data[0] >> (8 - cp.bits))
        start = 1
    backend.set_dictionary(ref, cp.window, WINDOW_SIZE)
    base = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0
    strm.next_in = base + start
    strm.avail_in = len(data) - start


class _Resumer:
    """Drives one resumed inflate: discard ``skip`` bytes, then collect ``length`` bytes."""

    def __init__(self, backend: InflateBackend, strm: ctypes.Structure, data: bytes) -> None:
        self._backend = backend
        self._strm = strm
        self._ref = ctypes.byref(strm)
        self._data = data  # keeps next_in valid
        self._raw = True
        self._ended = False  # at a member end; move on only if more output is wanted

    def run(self, skip: int, length: int) -> bytes:
        scratch = ctypes.create_string_buffer(min(skip, 1 << 16) or 1)
        out = ctypes.create_string_buffer(length)
        while skip:
            n = min(skip, len(scratch))
            skip -= self._inflate(ctypes.addressof(scratch), n)
        got = 0
        while got < length:
            got += self._inflate(ctypes.addressof(out) + got, length - got)
        return out.raw

    def _inflate(self, addr: int, size: int) -> int:
        """One inflate call into ``[addr, addr+size)``; crosses member ends; returns bytes made."""
        s = self._strm
        if self._ended:
            self._next_member()
        s.next_out = addr
        s.avail_out = size
        rc = self._backend.inflate(self._ref, Z_NO_FLUSH)
        made: int = size - s.avail_out
        self._ended = rc == Z_STREAM_END
        if self._ended:
            return made
        if rc not in (Z_OK, Z_BUF_ERROR):
            raise GzipFormatError(f"corrupt deflate data: {zlib_message(s, rc)}")
        if s.avail_out:
            raise GzipFormatError("compressed data ran out before the requested range")
        return made

    def _next_member(self) -> None:
        """At a member end: skip the trailer (raw mode only) and restart in gzip mode."""
        s = self._strm
        if self._raw:
            if s.avail_in < _TRAILER_SIZE:
                raise GzipFormatError("compressed data ran out inside a gzip trailer")
            s.next_in = (s.next_in or 0) + _TRAILER_SIZE
            s.avail_in -= _TRAILER_SIZE
            next_in, avail_in = s.next_in, s.avail_in
            self._backend.end(self._ref)
            open_stream(WBITS_GZIP, self._backend, s)
            s.next_in, s.avail_in = next_in, avail_in
            self._raw = False
        else:
            self._backend.reset(self._ref)
        if not s.avail_in:
            raise GzipFormatError("compressed data ran out at a gzip member boundary")
