"""ctypes binding to zlib-ng's native API, as exported by the ``zlib_ng`` wheel's extension.

zlib-ng's ``inflate`` honours ``Z_BLOCK`` and reports block ends in ``data_type`` exactly as
zlib does, and decodes about 1.7x as fast (docs/performance.md). The PyPI ``zlib-ng`` package
links zlib-ng statically into its extension module and exports the ``zng_*`` symbols, so the
extension itself is the shared library to load. ``zng_stream`` is not ``z_stream``: the
counters are ``size_t`` and ``adler`` is ``uint32_t`` followed by ``reserved``. No logic lives
here; ``backend.py`` checks the library before using it.
"""

from __future__ import annotations

import ctypes
import importlib.util
from ctypes import c_char_p, c_int, c_size_t, c_uint32, c_ulong, c_void_p

#: The ``zng_*`` functions the engine calls; a library lacking one is not used.
SYMBOLS = (
    "zng_inflateInit2_",
    "zng_inflate",
    "zng_inflateEnd",
    "zng_inflateReset",
    "zng_inflatePrime",
    "zng_inflateSetDictionary",
    "zng_inflateValidate",
    "zng_crc32",
    "zlibng_version",
)


class ZngStream(ctypes.Structure):
    """``zng_stream`` as laid out by zlib-ng.h (native API)."""

    _fields_ = (
        ("next_in", c_void_p),
        ("avail_in", c_uint32),
        ("total_in", c_size_t),
        ("next_out", c_void_p),
        ("avail_out", c_uint32),
        ("total_out", c_size_t),
        ("msg", c_char_p),
        ("state", c_void_p),
        ("zalloc", c_void_p),
        ("zfree", c_void_p),
        ("opaque", c_void_p),
        ("data_type", c_int),
        ("adler", c_uint32),
        ("reserved", c_ulong),
    )


def extension_path() -> str:
    """Path of the ``zlib_ng`` extension module (ImportError when the package is absent).

    Only the file is wanted: the engine depends on no third-party Python code, so the module
    is located, not imported by name here.
    """
    spec = importlib.util.find_spec("zlib_ng.zlib_ng")
    if spec is None or not spec.origin:
        raise ImportError("the zlib_ng extension module is not installed")
    return spec.origin


def bind(lib: ctypes.CDLL, stream: type[ctypes.Structure] = ZngStream) -> ctypes.CDLL:
    """Set the prototypes on ``lib`` for ``stream`` (AttributeError when a symbol is missing)."""
    ref = ctypes.POINTER(stream)
    for name in SYMBOLS:
        getattr(lib, name)
    lib.zlibng_version.argtypes = []
    lib.zlibng_version.restype = c_char_p
    # The ``_`` variant checks the caller's struct size and major version (Z_VERSION_ERROR).
    lib.zng_inflateInit2_.argtypes = [ref, c_int, c_char_p, c_int]
    lib.zng_inflateInit2_.restype = c_int
    lib.zng_inflate.argtypes = [ref, c_int]
    lib.zng_inflate.restype = c_int
    lib.zng_inflateEnd.argtypes = [ref]
    lib.zng_inflateEnd.restype = c_int
    lib.zng_inflateReset.argtypes = [ref]
    lib.zng_inflateReset.restype = c_int
    lib.zng_inflatePrime.argtypes = [ref, c_int, c_int]
    lib.zng_inflatePrime.restype = c_int
    lib.zng_inflateSetDictionary.argtypes = [ref, c_void_p, c_uint32]
    lib.zng_inflateSetDictionary.restype = c_int
    lib.zng_inflateValidate.argtypes = [ref, c_int]
    lib.zng_inflateValidate.restype = c_int
    lib.zng_crc32.argtypes = [c_uint32, c_void_p, c_uint32]
    lib.zng_crc32.restype = c_uint32
    return lib
