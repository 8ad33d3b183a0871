"""ctypes binding to the system ``libz.so.1``: the z_stream struct, prototypes and constants.

Python's ``zlib`` module cannot stop at deflate block boundaries (no ``Z_BLOCK``, no
``data_type``, no ``inflatePrime``/``inflateGetDictionary``), which soci's checkpoints need
(soci-format.md section 4.2). Every call used exists since zlib 1.2.9 (2017: ``inflateValidate``).
No logic lives here: this is the fallback inflate backend (docs/performance.md), chosen by
``backend.py`` when zlib-ng is unavailable, and the reference the property tests compare
against. ``ctypes`` releases the GIL for the duration of each foreign call.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, c_char_p, c_int, c_uint, c_ulong, c_void_p

Z_OK = 0
Z_STREAM_END = 1
Z_BUF_ERROR = -5

Z_NO_FLUSH = 0
Z_BLOCK = 5

#: ``data_type`` bits after ``inflate`` returns (zlib.h): stopped at a block end or after a
#: header, decoding the last block of the stream, and the unused-bit count of the last byte.
DT_BOUNDARY = 128
DT_LAST_BLOCK = 64
DT_BITS_MASK = 7

#: windowBits: gzip only (15 + 16), and raw deflate for resuming at a checkpoint.
WBITS_GZIP = 31
WBITS_RAW = -15


class ZStream(ctypes.Structure):
    """``z_stream`` as laid out by zlib.h (uLong is C ``unsigned long``)."""

    _fields_ = (
        ("next_in", c_void_p),
        ("avail_in", c_uint),
        ("total_in", c_ulong),
        ("next_out", c_void_p),
        ("avail_out", c_uint),
        ("total_out", c_ulong),
        ("msg", c_char_p),
        ("state", c_void_p),
        ("zalloc", c_void_p),
        ("zfree", c_void_p),
        ("opaque", c_void_p),
        ("data_type", c_int),
        ("adler", c_ulong),
        ("reserved", c_ulong),
    )


ZSTREAM_SIZE = ctypes.sizeof(ZStream)

libz = ctypes.CDLL("libz.so.1")

libz.zlibVersion.argtypes = []
libz.zlibVersion.restype = c_char_p
libz.inflateInit2_.argtypes = [POINTER(ZStream), c_int, c_char_p, c_int]
libz.inflateInit2_.restype = c_int
libz.inflate.argtypes = [POINTER(ZStream), c_int]
libz.inflate.restype = c_int
libz.inflateEnd.argtypes = [POINTER(ZStream)]
libz.inflateEnd.restype = c_int
libz.inflateReset.argtypes = [POINTER(ZStream)]
libz.inflateReset.restype = c_int
libz.inflatePrime.argtypes = [POINTER(ZStream), c_int, c_int]
libz.inflatePrime.restype = c_int
libz.inflateSetDictionary.argtypes = [POINTER(ZStream), c_void_p, c_uint]
libz.inflateSetDictionary.restype = c_int
libz.inflateGetDictionary.argtypes = [POINTER(ZStream), c_void_p, POINTER(c_uint)]
libz.inflateGetDictionary.restype = c_int
libz.inflateValidate.argtypes = [POINTER(ZStream), c_int]
libz.inflateValidate.restype = c_int
libz.crc32.argtypes = [c_ulong, c_void_p, c_uint]
libz.crc32.restype = c_ulong

ZLIB_VERSION: bytes = libz.zlibVersion()
