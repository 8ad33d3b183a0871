"""The error tree: every failure says what failed, where, and whether a retry can help.

Adapters map these to exit codes (CLI) or to retry/report-once decisions (Lambda) through
:attr:`SociError.transient`; nothing else inspects messages.
"""

from __future__ import annotations

from enum import StrEnum


class SociError(Exception):
    """Root of every error this package raises on purpose."""

    #: True when the same operation may succeed if tried again (throttling, 5xx, network).
    transient: bool = False


class LayerFormatError(SociError):
    """The layer bytes are not what their media type says (bad gzip, bad tar)."""

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(message if offset is None else f"{message} (at byte {offset})")


class GzipFormatError(LayerFormatError):
    """Truncated or corrupt gzip/deflate data."""


class TarFormatError(LayerFormatError):
    """A tar stream that Go's archive/tar (and so soci) would not read."""

    def __init__(
        self, message: str, *, offset: int | None = None, entry: str | None = None
    ) -> None:
        self.entry = entry
        super().__init__(message if entry is None else f"{message}: entry {entry!r}", offset=offset)


class SkipReason(StrEnum):
    """Why a layer or an image gets no zTOC/index. Rendered as is in JSON, logs and metrics."""

    BELOW_MIN_SIZE = "below-min-size"
    ZSTD = "zstd"
    NOT_A_LAYER = "not-a-layer"
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
    UNTAGGED = "untagged"
    OWN_OUTPUT = "own-output"
    ALREADY_SOCI = "already-soci"
    EXCLUDED = "excluded"
    NOT_INCLUDED = "not-included"
    NOTHING_TO_INDEX = "nothing-to-index"
    UP_TO_DATE = "up-to-date"
    #: fleet listings (docs/fleet.md): archived ECR images cannot be pulled; signatures,
    #: referrers tags and other artifacts are not images.
    ARCHIVED = "archived"
    NOT_AN_IMAGE = "not-an-image"
    INVALID_NAME = "invalid-name"


class UnsupportedLayerError(SociError):
    """A layer soci cannot index (zstd, unknown media type, an entry type soci rejects)."""

    def __init__(self, message: str, reason: SkipReason) -> None:
        self.reason = reason
        super().__init__(message)


class UnsupportedTarEntryError(TarFormatError):
    """A tar entry soci rejects (PAX global header, sparse file, unknown typeflag)."""


class DigestMismatchError(SociError):
    """Downloaded or read bytes do not hash to the digest they were asked for."""

    def __init__(self, expected: str, actual: str, what: str = "content") -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"{what} digest mismatch: expected {expected}, got {actual}")


class InvalidReferenceError(SociError, ValueError):
    """An image reference, repository name, tag or digest that breaks the OCI grammar."""


class ManifestError(SociError):
    """A manifest or index that is malformed, too large, or of an unexpected media type."""


class RegistryError(SociError):
    """A registry answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        transient: bool = False,
    ) -> None:
        self.status = status
        self.code = code
        self.transient = transient
        super().__init__(message)


class NotFoundError(RegistryError):
    """The registry or layout does not have the manifest, blob or repository asked for."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, status=404, code=code, transient=False)


class ConfigError(SociError):
    """A setting or filter that cannot be used as given (never silently ignored)."""


class DeadlineExceededError(SociError):
    """Work stopped cleanly before a deadline; nothing was tagged. Retrying can succeed."""

    transient = True
