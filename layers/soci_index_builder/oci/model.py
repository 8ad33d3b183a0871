"""OCI values: Platform, Descriptor, Manifest, ImageIndex. Frozen, validated, no I/O.

``from_json`` decodes like Go's ``ocispec`` structs do: unknown members are dropped, so
``to_dict``/``to_json`` re-encode exactly what soci re-encodes (soci-format.md section 5.3 for
SOCI indexes, section 5.5 steps 1 and 3 for rewritten image manifests and indexes). Malformed
input raises :class:`~soci_index_builder.errors.ManifestError` naming the offending member.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ..digest import sha256_digest, validate_digest
from ..errors import ConfigError, InvalidReferenceError, ManifestError
from . import mediatypes
from .canonical_json import encode_canonical, go_map

_T = TypeVar("_T")
# containerd platforms.Normalize, reduced to what images in the wild use.
_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386"}
_DEFAULT_VARIANTS = {
    ("amd64", "v1"): "",
    ("arm64", "8"): "",
    ("arm64", "v8"): "",
    ("arm", ""): "v7",
}


def _get(obj: Mapping[str, Any], key: str, kind: type[_T], where: str) -> _T | None:
    """``obj[key]`` if present and of ``kind`` (bool is not an int), None if absent."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _need(obj: Mapping[str, Any], key: str, kind: type[_T], where: str) -> _T:
    value = _get(obj, key, kind, where)
    if value is None:
        raise ManifestError(f"{where}: missing required member {key!r}")
    return value


def _strings(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = _get(obj, key, list, where) or []
    if not all(isinstance(item, str) for item in items):
        raise ManifestError(f"{where}.{key}: expected a list of strings")
    return tuple(items)


def _annotations(obj: Mapping[str, Any], where: str) -> dict[str, str] | None:
    value = _get(obj, "annotations", dict, where)
    if value is not None and not all(isinstance(v, str) for v in value.values()):
        raise ManifestError(f"{where}.annotations: values must be strings")
    return value


def load_object(raw: bytes, what: str) -> dict[str, Any]:
    """A JSON object (NaN and Infinity refused, as Go refuses them), or ManifestError."""
    try:
        obj = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{what} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise ManifestError(f"{what} nests JSON too deeply") from None
    if not isinstance(obj, dict):
        raise ManifestError(f"{what} must be a JSON object, got {type(obj).__name__}")
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True)
class Platform:
    """Where an image runs; ``str()`` gives containerd's ``os/arch[/variant]`` form."""

    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/arch[/variant]`` (e.g. ``linux/arm64/v8``), kept literally."""
        parts = text.split("/")
        if not 2 <= len(parts) <= 3 or not all(parts):
            raise ConfigError(f"platform must be os/arch[/variant], got {text!r}")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    def normalized(self) -> Platform:
        """containerd's normal form: ``aarch64`` -> ``arm64``, ``arm64/v8`` -> ``arm64``, ..."""
        arch = _ARCH_ALIASES.get(self.architecture.lower(), self.architecture.lower())
        variant = self.variant or ""
        variant = _DEFAULT_VARIANTS.get((arch, variant), variant)
        if arch == "arm" and variant in ("5", "6", "7", "8"):
            variant = "v" + variant
        return Platform(self.os.lower(), arch, variant or None, self.os_version, self.os_features)

    def matches(self, other: Platform | str) -> bool:
        """Same os, architecture and variant once both are normalized (os.version ignored)."""
        theirs = Platform.parse(other) if isinstance(other, str) else other
        a, b = self.normalized(), theirs.normalized()
        return (a.os, a.architecture, a.variant) == (b.os, b.architecture, b.variant)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], where: str = "platform") -> Platform:
        return cls(
            os=_need(obj, "os", str, where),
            architecture=_need(obj, "architecture", str, where),
            variant=_get(obj, "variant", str, where) or None,
            os_version=_get(obj, "os.version", str, where) or None,
            os_features=_strings(obj, "os.features", where),
        )

    def to_dict(self) -> dict[str, Any]:
        """Members in ``ocispec.Platform`` field order, empty ones omitted."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content: media type, digest and size, plus optional metadata."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] | None = None
    platform: Platform | None = None
    artifact_type: str | None = None
    urls: tuple[str, ...] = ()
    data: bytes | None = None

    def __post_init__(self) -> None:
        validate_digest(self.digest)
        if self.size < 0:
            raise ManifestError(f"descriptor size must be >= 0, got {self.size}")

    @classmethod
    def from_dict(cls, obj: Any, where: str = "descriptor") -> Descriptor:
        if not isinstance(obj, dict):
            raise ManifestError(f"{where}: expected an object, got {type(obj).__name__}")
        digest = _need(obj, "digest", str, where)
        try:
            validate_digest(digest)
        except InvalidReferenceError as exc:
            raise ManifestError(f"{where}.digest: {exc}") from exc
        platform = _get(obj, "platform", dict, where)
        return cls(
            media_type=_need(obj, "mediaType", str, where),
            digest=digest,
            size=_need(obj, "size", int, where),
            annotations=_annotations(obj, where),
            platform=None
            if platform is None
            else Platform.from_dict(platform, f"{where}.platform"),
            artifact_type=_get(obj, "artifactType", str, where) or None,
            urls=_strings(obj, "urls", where),
            data=_data(obj, where),
        )

    def to_dict(self) -> dict[str, Any]:
        """Members in ``ocispec.Descriptor`` field order, empty ones omitted (section 5.3)."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = go_map(self.annotations)
        if self.data:
            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.platform is not None:
            out["platform"] = self.platform.to_dict()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out


def _data(obj: Mapping[str, Any], where: str) -> bytes | None:
    text = _get(obj, "data", str, where)
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ManifestError(f"{where}.data: not standard base64: {exc}") from exc


def descriptor_for(raw: bytes, media_type: str, **extra: Any) -> Descriptor:
    """The descriptor of ``raw`` (digest and size computed); ``extra`` sets optional fields."""
    return Descriptor(media_type, sha256_digest(raw), len(raw), **extra)


def _head(obj: Mapping[str, Any], what: str, allowed: frozenset[str]) -> str | None:
    version = _need(obj, "schemaVersion", int, what)
    if version != 2:
        raise ManifestError(f"{what}: schemaVersion must be 2, got {version}")
    media_type = _get(obj, "mediaType", str, what) or None
    if media_type is not None and media_type not in allowed:
        raise ManifestError(f"{what}: unexpected mediaType {media_type!r}")
    return media_type


def _descriptors(obj: Mapping[str, Any], key: str, what: str) -> tuple[Descriptor, ...]:
    items = _need(obj, key, list, what)
    return tuple(Descriptor.from_dict(item, f"{what}.{key}[{i}]") for i, item in enumerate(items))


def _optional_descriptor(obj: Mapping[str, Any], key: str, what: str) -> Descriptor | None:
    value = obj.get(key)
    return None if value is None else Descriptor.from_dict(value, f"{what}.{key}")


def _tail(out: dict[str, Any], subject: Descriptor | None, annotations: Any) -> dict[str, Any]:
    if subject is not None:
        out["subject"] = subject.to_dict()
    if annotations:
        out["annotations"] = go_map(annotations)
    return out


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """An OCI image manifest (also a Docker schema 2 manifest, which has the same shape)."""

    schema_version: int = 2
    media_type: str | None = mediatypes.OCI_IMAGE_MANIFEST
    artifact_type: str | None = None
    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    annotations: Mapping[str, str] | None = None

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Decode and validate; unknown members are dropped as Go's decoder drops them."""
        obj = load_object(raw, "manifest")
        allowed = frozenset({mediatypes.OCI_IMAGE_MANIFEST, mediatypes.DOCKER_MANIFEST_V2})
        return cls(
            media_type=_head(obj, "manifest", allowed),
            artifact_type=_get(obj, "artifactType", str, "manifest") or None,
            config=Descriptor.from_dict(_need(obj, "config", dict, "manifest"), "manifest.config"),
            layers=_descriptors(obj, "layers", "manifest"),
            subject=_optional_descriptor(obj, "subject", "manifest"),
            annotations=_annotations(obj, "manifest"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Members in ``ocispec.Manifest`` field order (section 5.3)."""
        out: dict[str, Any] = {"schemaVersion": self.schema_version}
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["config"] = self.config.to_dict()
        out["layers"] = [layer.to_dict() for layer in self.layers]
        return _tail(out, self.subject, self.annotations)

    def to_json(self) -> bytes:
        """Canonical (Go ``encoding/json``) bytes."""
        return encode_canonical(self.to_dict())


@dataclass(frozen=True, kw_only=True)
class ImageIndex:
    """An OCI image index (also a Docker manifest list, decoded into the same struct)."""

    schema_version: int = 2
    media_type: str | None = mediatypes.OCI_IMAGE_INDEX
    artifact_type: str | None = None
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    annotations: Mapping[str, str] | None = None

    @classmethod
    def from_json(cls, raw: bytes) -> ImageIndex:
        """Decode and validate; unknown members are dropped as Go's decoder drops them."""
        obj = load_object(raw, "index")
        allowed = frozenset({mediatypes.OCI_IMAGE_INDEX, mediatypes.DOCKER_MANIFEST_LIST})
        return cls(
            media_type=_head(obj, "index", allowed),
            artifact_type=_get(obj, "artifactType", str, "index") or None,
            manifests=_descriptors(obj, "manifests", "index"),
            subject=_optional_descriptor(obj, "subject", "index"),
            annotations=_annotations(obj, "index"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Members in ``ocispec.Index`` field order."""
        out: dict[str, Any] = {"schemaVersion": self.schema_version}
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["manifests"] = [m.to_dict() for m in self.manifests]
        return _tail(out, self.subject, self.annotations)

    def to_json(self) -> bytes:
        """Canonical (Go ``encoding/json``) bytes."""
        return encode_canonical(self.to_dict())
