"""Image references and the OCI name grammars, validated before anything reaches a URL.

Two forms are accepted (the CLI's ``REF``):

* ``oci:DIR[:TAG]`` or ``oci:DIR@sha256:...``: an OCI image layout directory;
* ``host[:port]/repo[/more]:tag`` or ``...@sha256:...``: a repository in an OCI registry. The
  host is mandatory (there is no implicit Docker Hub: this tool works with the registries it is
  pointed at).

Grammars follow the OCI distribution spec (repository name components, tags) and the image
spec (digests, restricted here to sha256).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..digest import validate_digest
from ..errors import InvalidReferenceError

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_HOST_LABEL = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"
_HOST_RE = re.compile(
    rf"(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?"
)
#: The distribution spec's recommended limit on a repository name (with the host).
MAX_NAME_LENGTH = 255
LAYOUT_SCHEME = "oci:"


def validate_repository(name: str) -> str:
    """Return ``name`` if it is a valid repository path (``a/b-c/d_e``), else raise."""
    if len(name) > MAX_NAME_LENGTH or not _REPOSITORY_RE.fullmatch(name):
        raise InvalidReferenceError(f"invalid repository name: {name[:300]!r}")
    return name


def validate_tag(tag: str) -> str:
    """Return ``tag`` if it matches ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``, else raise."""
    if not _TAG_RE.fullmatch(tag):
        raise InvalidReferenceError(f"invalid tag: {tag[:200]!r}")
    return tag


def validate_host(host: str) -> str:
    """Return ``host`` if it is ``name[:port]`` or ``[ipv6][:port]``, else raise."""
    if not _HOST_RE.fullmatch(host):
        raise InvalidReferenceError(f"invalid registry host: {host[:200]!r}")
    return host


def validate_manifest_reference(reference: str) -> str:
    """A manifest reference is a tag or a digest."""
    if reference.startswith("sha256:"):
        return validate_digest(reference)
    return validate_tag(reference)


@dataclass(frozen=True)
class Reference:
    """A parsed image reference: where the repository is, and which manifest in it."""

    #: ``oci`` for a layout directory, else the registry ``host[:port]``.
    registry: str
    #: Repository path in a registry, or the layout directory path.
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def is_layout(self) -> bool:
        return self.registry == "oci"

    @property
    def manifest_reference(self) -> str:
        """What to ask the repository for: the digest if pinned, else the tag."""
        if self.digest:
            return self.digest
        if self.tag:
            return self.tag
        raise InvalidReferenceError(f"{self} names no tag and no digest")

    def __str__(self) -> str:
        base = f"oci:{self.repository}" if self.is_layout else f"{self.registry}/{self.repository}"
        if self.digest:
            return f"{base}@{self.digest}"
        return f"{base}:{self.tag}" if self.tag else base


def parse_reference(text: str, default_tag: str | None = None) -> Reference:
    """Parse ``oci:DIR[:TAG|@DIGEST]`` or ``host/repo[:TAG|@DIGEST]``; raise on anything else."""
    if text.startswith(LAYOUT_SCHEME):
        return _parse_layout(text[len(LAYOUT_SCHEME) :], default_tag)
    name, tag, digest = _split_name(text)
    host, sep, repository = name.partition("/")
    if not sep or not ("." in host or ":" in host or host == "localhost" or host.startswith("[")):
        raise InvalidReferenceError(
            f"reference {text[:200]!r} needs a registry host, e.g. registry.example.com/{name}"
        )
    validate_host(host)
    validate_repository(repository)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidReferenceError(
            f"reference name longer than {MAX_NAME_LENGTH}: {name[:80]!r}..."
        )
    return Reference(host, repository, tag or (None if digest else default_tag), digest)


def _split_name(text: str) -> tuple[str, str | None, str | None]:
    name, _, digest = text.partition("@")
    if digest:
        validate_digest(digest)
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
        validate_tag(tag)
    return name, tag, digest or None


def _parse_layout(rest: str, default_tag: str | None) -> Reference:
    path, _, digest = rest.partition("@")
    tag = None
    if digest:
        validate_digest(digest)
    elif ":" in path.rsplit("/", 1)[-1]:
        path, _, tag = path.rpartition(":")
        validate_tag(tag)
    if not path:
        raise InvalidReferenceError("oci: reference needs a directory, e.g. oci:./image:latest")
    return Reference("oci", path, tag or (None if digest else default_tag), digest or None)
