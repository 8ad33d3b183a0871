"""The last step of a build: pointing tags at the output (docs/ecr.md "Immutable tags").

ECR repositories with immutable tags answer a tag overwrite with 400 ``TAG_INVALID``. Two
deliveries of one push build the same bytes, so a refused tag that already names our output is
success; a refused tag that names something else is a repository setting the owner can change,
and the error says which (``IMMUTABLE_WITH_EXCLUSION`` with an exclusion filter on the suffix).
"""

from __future__ import annotations

from ..digest import sha256_digest
from ..errors import TAG_INVALID, ImmutableTagError, RegistryError
from ..store.base import Repository


def put_tag(repo: Repository, raw: bytes, media_type: str, tag: str, suffix: str) -> str:
    """Point ``tag`` at ``raw``; a refusal on an immutable tag that already holds it is success."""
    try:
        return repo.push_manifest(raw, media_type, tag)
    except RegistryError as exc:
        if exc.code != TAG_INVALID:
            raise
        digest = sha256_digest(raw)
        current = repo.resolve(tag)
        if current is None:
            raise  # not an overwrite: some other tag problem, reported as the registry said
        if current.digest == digest:
            return digest
        message = _immutable_message(repo.name, tag, suffix)
        raise ImmutableTagError(message, status=exc.status) from exc


def move_source_tag(
    repo: Repository, raw: bytes, media_type: str, tag: str, source_digest: str, suffix: str
) -> bool:
    """``replace_tag``: move ``tag`` from the source image to the output; True if it names it.

    A tag that no longer names ``source_digest`` was pushed again meanwhile: moving it would
    replace the newer image with an index of the older one, so it is left alone (False).
    """
    current = repo.resolve(tag)
    if current is None or current.digest == sha256_digest(raw):
        return current is not None
    if current.digest != source_digest:
        return False
    try:
        repo.push_manifest(raw, media_type, tag)
    except RegistryError as exc:
        if exc.code != TAG_INVALID:
            raise
        raise ImmutableTagError(
            f"replace_tag cannot move {repo.name}:{tag}: the repository's tags are immutable"
            f" (IMMUTABLE_WITH_EXCLUSION with the filter '*{suffix}' lets only the outputs move);"
            " turn replace_tag off",
            status=exc.status,
        ) from exc
    return True


def _immutable_message(name: str, tag: str, suffix: str) -> str:
    return (
        f"cannot update {name}:{tag}: the repository's tags are immutable; set its tag"
        f" mutability to IMMUTABLE_WITH_EXCLUSION with the exclusion filter '*{suffix}'"
        " so the builder can move its outputs"
    )
