"""Content digests (``sha256:<64 lower-hex>``) and a reader that verifies one at end of stream."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Protocol

from .errors import DigestMismatchError, InvalidReferenceError, SizeMismatchError

if TYPE_CHECKING:
    from .streams import Readable

# OCI image-spec descriptor grammar, restricted to the algorithm every registry uses.
_SHA256_RE = re.compile(r"sha256:[a-f0-9]{64}")


def validate_digest(value: str) -> str:
    """Return ``value`` if it is a well-formed sha256 digest, else raise InvalidReferenceError."""
    if not _SHA256_RE.fullmatch(value):
        raise InvalidReferenceError(f"not a sha256 digest: {value[:80]!r}")
    return value


class _Hasher(Protocol):
    def hexdigest(self) -> str: ...


def sha256_digest(data: bytes | bytearray | memoryview) -> str:
    """The OCI digest string of ``data``."""
    return hash_digest(hashlib.sha256(data))


def hash_digest(hasher: _Hasher) -> str:
    """The OCI digest string of a sha256 object fed incrementally (streams, spans)."""
    return "sha256:" + hasher.hexdigest()


class DigestingReader:
    """Forward-only reader that hashes what passes through and checks it at EOF.

    When ``expected`` is given, reaching end of stream with a different digest (or a different
    size, when ``expected_size`` is given) raises :class:`DigestMismatchError` from the read
    that hit EOF, so no consumer can finish on unverified bytes.
    """

    def __init__(
        self,
        source: Readable,
        expected: str | None = None,
        expected_size: int | None = None,
        what: str = "blob",
    ) -> None:
        self._source = source
        self._expected = validate_digest(expected) if expected else None
        self._expected_size = expected_size
        self._what = what
        self._hash = hashlib.sha256()
        self.bytes_read = 0
        self._done = False

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = self._source.readinto(buffer)
        if n:
            self._hash.update(memoryview(buffer)[:n])
            self.bytes_read += n
            if self._expected_size is not None and self.bytes_read > self._expected_size:
                self._fail()
        elif not self._done:
            self._done = True
            self._check()
        return n

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (a bounded chunk when ``size`` < 0)."""
        buf = bytearray(size if size >= 0 else 1 << 20)
        n = self.readinto(buf)
        del buf[n:]
        return bytes(buf)

    @property
    def digest(self) -> str:
        """Digest of the bytes read so far (the blob digest once EOF was reached)."""
        return hash_digest(self._hash)

    def _check(self) -> None:
        size_ok = self._expected_size is None or self.bytes_read == self._expected_size
        if (self._expected and self.digest != self._expected) or not size_ok:
            self._fail()

    def _fail(self) -> None:
        if self._expected_size is not None and self.bytes_read != self._expected_size:
            raise SizeMismatchError(self._expected_size, self.bytes_read, self._what)
        raise DigestMismatchError(f"{self._expected}", f"{self.digest}", self._what)
