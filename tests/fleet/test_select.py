"""The listing-only decision (fleet/select.py): every tag lands in exactly one bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from soci_index_builder.errors import SkipReason
from soci_index_builder.fleet.model import ImageRecord
from soci_index_builder.fleet.orphans import dangling_output, idle_since
from soci_index_builder.fleet.select import plan_repository
from soci_index_builder.oci import mediatypes as mt

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def record(n: int, *tags: str, days: float | None = 0, **extra: object) -> ImageRecord:
    pushed = T0 + timedelta(days=days) if days is not None else None
    return ImageRecord("app", digest(n), tags, pushed_at=pushed, **extra)  # type: ignore[arg-type]


def only_not_x(repository: str, tag: str) -> SkipReason | None:
    return SkipReason.EXCLUDED if tag == "x" else None


def test_v2_buckets() -> None:
    plan = plan_repository(
        "app",
        [
            record(1, "current", days=0),
            record(2, "current-soci", days=1, manifest_media_type=mt.OCI_IMAGE_INDEX),
            record(3, "moved", days=5),
            record(4, "moved-soci", days=1),
            record(5, "new", days=2),
            record(6, "unknown", days=None),
            record(7, "unknown-soci", days=None),
            record(8, "x"),
            record(9, "old", status="ARCHIVED"),
            record(10, "sha256-" + "a" * 64 + ".att"),
            record(11, "helm", artifact_media_type="application/vnd.cncf.helm.config.v1+json"),
            record(12, "blob", manifest_media_type="application/octet-stream"),
            record(13, "bad tag!"),
            record(14, "replaced", "replaced-soci", days=3),  # replace_tag: both on the output
            record(15, "copy", "other-soci", days=3),  # a user's second name for an output
        ],
        only_not_x,
        "-soci",
    )
    assert {(w.tag, w.why) for w in plan.work} == {
        ("moved", "output-older"),
        ("new", "no-output"),
        ("unknown", "unverified"),
    }
    assert plan.enabled == ["current", "replaced"] and plan.selected == 5
    assert plan.skipped == {
        "own-output": 5,
        "already-soci": 1,
        "excluded": 1,
        "archived": 1,
        "not-an-image": 3,
        "invalid-name": 1,
    }


def test_v1_outputs_by_subject_or_fallback_tag() -> None:
    soci_v1 = {"artifact_media_type": mt.SOCI_INDEX_V1}
    plan = plan_repository(
        "app",
        [
            record(1, "ecr", days=0),
            record(2, days=1, subject=digest(1), **soci_v1),  # ECR lists referrers untagged
            record(3, "registry", days=None),
            record(4, "sha256-" + f"{3:064x}", days=None),  # the fallback tag of 3
            record(5, "multi", manifest_media_type=mt.OCI_IMAGE_INDEX),
            record(6, "plain", days=0),
        ],
        lambda repository, tag: None,
        "-soci",
        "v1",
    )
    assert plan.enabled == ["ecr"]
    assert {(w.tag, w.why) for w in plan.work} == {
        ("registry", "unverified"),
        ("multi", "unverified"),
        ("plain", "no-output"),
    }


def test_dangling_outputs_and_idle_time() -> None:
    assert dangling_output("a-soci", {"b"}, "-soci")
    assert not dangling_output("a-soci", {"a"}, "-soci")
    assert not dangling_output("-soci", set(), "-soci") and not dangling_output("a", set(), "-soci")
    pulled = record(1, days=0, last_pulled=T0 + timedelta(days=3))
    assert idle_since([pulled, record(2, days=1), None]) == T0 + timedelta(days=3)
    assert idle_since([record(3, days=None)]) is None
