"""Repository backend over an OCI image layout directory (image-spec ``image-layout.md``).

Layout: ``oci-layout`` (``{"imageLayoutVersion":"1.0.0"}``), ``index.json`` (an image index
whose descriptors name the tags through ``org.opencontainers.image.ref.name``) and
``blobs/sha256/<hex>`` (content, manifests included). Untagged manifests live as blobs only,
which is how skopeo and containerd keep them too.

Safety: blobs and ``index.json`` are written to a temporary file in the same directory and
renamed into place (no fsync: a crash leaves the old file or the new one, never half of
either); every blob read is verified at EOF. ``index.json`` updates are serialized within a
process; concurrent writers in different processes are not coordinated.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..digest import DigestingReader, sha256_digest, validate_digest
from ..errors import ConfigError, DigestMismatchError, ManifestError, NotFoundError
from ..oci import mediatypes
from ..oci.canonical_json import encode_canonical
from ..oci.model import Descriptor, ImageIndex, load_object
from ..oci.reference import validate_manifest_reference, validate_tag
from ..streams import copy_stream, write_atomically, write_through_temp
from .base import MAX_MANIFEST_SIZE, ManifestInfo, RawManifest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from io import BufferedReader

    from ..streams import Readable

#: The annotation that makes an index.json descriptor a tag (image-spec annotations.md).
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LAYOUT_VERSION = "1.0.0"
_TMP_PREFIX = ".tmp-"


class LayoutRepository:
    """One OCI image layout directory seen as a repository (the ``oci:DIR`` references).

    ``create=True`` initialises a missing or empty directory; an existing layout is opened
    as is, and a non-empty directory that is not a layout is refused rather than written into.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        self._path = Path(path)
        self._blobs = self._path / "blobs" / "sha256"
        self._index_lock = threading.Lock()
        if create and not (self._path / LAYOUT_FILE).exists():
            self._initialise()
        self._check_layout()

    @property
    def name(self) -> str:
        return f"oci:{self._path}"

    @property
    def path(self) -> Path:
        return self._path

    # --- reading ----------------------------------------------------------------------------

    def read_index(self) -> ImageIndex:
        """The parsed ``index.json``."""
        try:
            raw = (self._path / INDEX_FILE).read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(f"{self.name}: missing {INDEX_FILE}") from exc
        try:
            return ImageIndex.from_json(raw)
        except ManifestError as exc:
            raise ManifestError(f"{self.name}: bad {INDEX_FILE}: {exc}") from exc

    def fetch_manifest(self, reference: str) -> RawManifest:
        """Manifest by tag (media type from index.json) or digest (from its ``mediaType``)."""
        validate_manifest_reference(reference)
        if reference.startswith("sha256:"):
            raw = self._read_manifest_blob(reference, None)
            return RawManifest(_sniff_media_type(raw, reference), reference, raw)
        desc = self._tagged(reference)
        if desc is None:
            raise NotFoundError(f"{self.name}: no tag {reference!r}", code="MANIFEST_UNKNOWN")
        return RawManifest(
            desc.media_type, desc.digest, self._read_manifest_blob(desc.digest, desc.size)
        )

    def resolve(self, reference: str) -> ManifestInfo | None:
        try:
            found = self.fetch_manifest(reference)
        except NotFoundError:
            return None
        return ManifestInfo(found.media_type, found.digest, len(found.raw))

    @contextmanager
    def open_blob(self, digest: str, size: int | None = None) -> Iterator[Readable]:
        """Stream a blob; DigestMismatchError at EOF if the file does not hash to ``digest``."""
        with self._open(digest) as file:
            yield DigestingReader(file, digest, size)

    def read_blob_range(self, digest: str, start: int, end: int) -> bytes:
        if not 0 <= start <= end:
            raise ValueError(f"bad byte range [{start}, {end})")
        with self._open(digest) as file:
            file.seek(start)
            return file.read(end - start)

    def has_blob(self, digest: str) -> bool:
        return self._blob_path(digest).is_file()

    def list_tags(self) -> list[str]:
        """Tags in index.json order, each once; ref names that are not tags are skipped."""
        tags: list[str] = []
        for desc in self.read_index().manifests:
            tag = _ref_name(desc)
            if tag and tag not in tags and _is_tag(tag):
                tags.append(tag)
        return tags

    # --- writing ----------------------------------------------------------------------------

    def push_blob(self, digest: str, data: bytes) -> bool:
        """Store ``data`` under ``digest`` (verified first); False if already present."""
        path = self._blob_path(digest)
        actual = sha256_digest(data)
        if actual != digest:
            raise DigestMismatchError(digest, actual, "pushed blob")
        if path.is_file() and path.stat().st_size == len(data):
            return False
        write_atomically(path, data, _TMP_PREFIX)
        return True

    def push_blob_stream(self, source: Readable) -> tuple[str, int]:
        """Copy ``source`` into a temporary blob, then rename it to its digest."""
        reader = DigestingReader(source)
        size = write_through_temp(
            self._blobs,
            _TMP_PREFIX,
            lambda file: copy_stream(reader, file),
            lambda _: self._blob_path(reader.digest),
        )
        return reader.digest, size

    def push_manifest(self, raw: bytes, media_type: str, tag: str | None = None) -> str:
        """Store a manifest blob; with ``tag``, replace that tag's index.json descriptor."""
        if tag is not None:
            validate_tag(tag)
        if len(raw) > MAX_MANIFEST_SIZE:
            raise ManifestError(f"manifest of {len(raw)} bytes exceeds {MAX_MANIFEST_SIZE}")
        declared = load_object(raw, "manifest").get("mediaType")
        if declared is not None and declared != media_type:
            raise ManifestError(f"manifest mediaType {declared!r} differs from {media_type!r}")
        digest = sha256_digest(raw)
        self.push_blob(digest, raw)
        if tag is not None:
            self._set_tag(tag, Descriptor(media_type, digest, len(raw), {REF_NAME_ANNOTATION: tag}))
        return digest

    def delete_manifest(self, digest: str) -> None:
        """Drop every index.json entry (tag) naming ``digest``; the blob stays (shared content)."""
        validate_digest(digest)
        with self._index_lock:
            index = self.read_index()
            kept = tuple(d for d in index.manifests if d.digest != digest)
            if len(kept) == len(index.manifests) and not self.has_blob(digest):
                raise NotFoundError(f"{self.name}: no manifest {digest}", code="MANIFEST_UNKNOWN")
            self._write_index(replace(index, manifests=kept))

    # --- internals --------------------------------------------------------------------------

    def _initialise(self) -> None:
        if self._path.exists() and any(self._path.iterdir()):
            raise ConfigError(f"{self._path} is not empty and not an OCI image layout")
        self._blobs.mkdir(parents=True, exist_ok=True)
        layout = encode_canonical({"imageLayoutVersion": LAYOUT_VERSION})
        write_atomically(self._path / LAYOUT_FILE, layout, _TMP_PREFIX)
        self._write_index(ImageIndex(manifests=()))

    def _check_layout(self) -> None:
        marker = self._path / LAYOUT_FILE
        if not marker.is_file():
            raise NotFoundError(f"{self._path} is not an OCI image layout (no {LAYOUT_FILE} file)")
        version = load_object(marker.read_bytes(), LAYOUT_FILE).get("imageLayoutVersion")
        if not isinstance(version, str) or not version.startswith("1."):
            raise ManifestError(f"{marker}: unsupported imageLayoutVersion {version!r}")
        if not (self._path / INDEX_FILE).is_file():
            raise NotFoundError(f"{self._path} is not an OCI image layout (no {INDEX_FILE})")
        self._blobs.mkdir(parents=True, exist_ok=True)

    def _blob_path(self, digest: str) -> Path:
        return self._blobs / validate_digest(digest).removeprefix("sha256:")

    @contextmanager
    def _open(self, digest: str) -> Iterator[BufferedReader]:
        try:
            file = open(self._blob_path(digest), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"{self.name}: blob {digest} not found", code="BLOB_UNKNOWN"
            ) from exc
        with file:
            yield file

    def _read_manifest_blob(self, digest: str, size: int | None) -> bytes:
        """Read a manifest blob, refusing oversized ones before reading them."""
        if size is not None and size > MAX_MANIFEST_SIZE:
            raise ManifestError(f"manifest {digest} of {size} bytes exceeds {MAX_MANIFEST_SIZE}")
        with self._open(digest) as file:
            raw = file.read(MAX_MANIFEST_SIZE + 1)
        if len(raw) > MAX_MANIFEST_SIZE:
            raise ManifestError(f"manifest {digest} exceeds {MAX_MANIFEST_SIZE} bytes")
        actual = sha256_digest(raw)
        if actual != digest or (size is not None and size != len(raw)):
            raise DigestMismatchError(
                f"{digest} ({size} bytes)", f"{actual} ({len(raw)} bytes)", "manifest"
            )
        return raw

    def _tagged(self, tag: str) -> Descriptor | None:
        for desc in self.read_index().manifests:
            if _ref_name(desc) == tag:
                return desc
        return None

    def _set_tag(self, tag: str, new: Descriptor) -> None:
        with self._index_lock:
            index = self.read_index()
            manifests = list(index.manifests)
            positions = [i for i, desc in enumerate(manifests) if _ref_name(desc) == tag]
            for i in reversed(positions[1:]):
                del manifests[i]
            if positions:
                manifests[positions[0]] = new
            else:
                manifests.append(new)
            media_type = index.media_type or mediatypes.OCI_IMAGE_INDEX
            self._write_index(replace(index, media_type=media_type, manifests=tuple(manifests)))

    def _write_index(self, index: ImageIndex) -> None:
        write_atomically(self._path / INDEX_FILE, index.to_json(), _TMP_PREFIX)


def _ref_name(desc: Descriptor) -> str | None:
    """The tag an index.json descriptor carries, if any."""
    return (desc.annotations or {}).get(REF_NAME_ANNOTATION)


def _sniff_media_type(raw: bytes, digest: str) -> str:
    """A manifest's own ``mediaType``, else guessed from its shape as registries do."""
    obj = load_object(raw, f"manifest {digest}")
    declared = obj.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if "manifests" in obj:
        return mediatypes.OCI_IMAGE_INDEX
    if "config" in obj:
        return mediatypes.OCI_IMAGE_MANIFEST
    raise ManifestError(
        f"manifest {digest} has no mediaType and is neither a manifest nor an index"
    )


def _is_tag(name: str) -> bool:
    try:
        validate_tag(name)
    except ValueError:
        return False
    return True


if TYPE_CHECKING:
    from .base import Repository

    def _implements_repository(repo: LayoutRepository) -> Repository:
        return repo  # mypy fails here if LayoutRepository drifts from the protocol
