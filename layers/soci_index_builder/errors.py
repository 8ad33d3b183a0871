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
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
    #: A non-distributable ("foreign") layer with ``urls``: soci leaves it out (its bytes live
    #: elsewhere and may not be redistributed).
    NON_DISTRIBUTABLE = "non-distributable"
    UNTAGGED = "untagged"
    OWN_OUTPUT = "own-output"
    ALREADY_SOCI = "already-soci"
    EXCLUDED = "excluded"
    NOT_INCLUDED = "not-included"
    NOTHING_TO_INDEX = "nothing-to-index"
    #: A tagged artifact that is not a runnable image: a cosign signature or attestation, an
    #: SBOM, a Helm chart (docs/ecr.md "Artifacts").
    NOT_AN_IMAGE = "not-an-image"
    #: The pushed image is gone by the time it is read: deleted, or archived (ECR answers 404
    #: for storage class ARCHIVE). Nothing to index and nothing anyone can fix by retrying.
    SOURCE_GONE = "source-gone"
    UP_TO_DATE = "up-to-date"
    #: Fleet listings (docs/fleet.md): an archived ECR image cannot be pulled; a listed name
    #: that is not a valid repository or tag is never used in a URL.
    ARCHIVED = "archived"
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


class SizeMismatchError(DigestMismatchError):
    """The bytes end before, or run past, the size their descriptor declares."""

    def __init__(self, expected_size: int, actual_size: int, what: str = "content") -> None:
        self.expected = f"{expected_size} bytes"
        self.actual = f"{actual_size} bytes"
        problem = "truncated" if actual_size < expected_size else "longer than declared"
        SociError.__init__(
            self, f"{what} {problem}: {actual_size} bytes read, {expected_size} expected"
        )


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
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.transient = transient
        self.retry_after = retry_after  # seconds the server asked us to wait (Retry-After)
        super().__init__(message)


class NotFoundError(RegistryError):
    """The registry or layout does not have the manifest, blob or repository asked for."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, status=404, code=code, transient=False)


#: The distribution error code ECR answers an overwrite of an immutable tag with.
TAG_INVALID = "TAG_INVALID"


class ImmutableTagError(RegistryError):
    """The registry refused to move a tag because the repository's tags are immutable.

    Fixable by the repository's owner (docs/ecr.md "Immutable tags"), so the Lambda retries it
    into the dead-letter queue instead of dropping it.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status, code=TAG_INVALID, transient=False)


class SourceNotFoundError(NotFoundError):
    """The image reference itself is absent (not one of its blobs): deleted, archived, a typo."""


class ConfigError(SociError):
    """A setting or filter that cannot be used as given (never silently ignored)."""


class DeadlineExceededError(SociError):
    """Work stopped cleanly before a deadline; nothing was tagged. Retrying can succeed."""

    transient = True
