"""The rule's pattern against realistic ECR events, evaluated by moto's EventBridge matcher
(an emulator of the documented semantics, e.g. an absent field never matches anything-but)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from moto.events.models import EventPattern

if TYPE_CHECKING:
    from .conftest import Synth

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

ACCOUNT, REGION = "123456789012", "us-east-1"
IMAGE = "application/vnd.oci.image.config.v1+json"


def _event(**detail: Any) -> dict[str, Any]:
    base = {"result": "SUCCESS", "action-type": "PUSH", "repository-name": "app",
            "image-digest": "sha256:" + "a" * 64}  # fmt: skip
    return {
        "id": "1", "version": "0", "detail-type": "ECR Image Action", "source": "aws.ecr",
        "account": ACCOUNT, "region": REGION, "time": "2025-01-01T00:00:00Z", "resources": [],
        "detail": {**base, **{k.replace("_", "-"): v for k, v in detail.items()}},
    }  # fmt: skip


CASES = {
    "tagged image push": (_event(image_tag="v1", artifact_media_type=IMAGE), True),
    "tagged push, no media type fields (documented sample)": (_event(image_tag="latest"), True),
    "tag with the suffix inside": (_event(image_tag="soci-v1"), True),
    "our SOCI-enabled index tag": (_event(image_tag="v1-soci"), False),
    "SOCI index v2 manifest": (
        _event(image_tag="x", artifact_media_type="application/vnd.amazon.soci.index.v2+json"),
        False,
    ),
    "SOCI index v1 manifest": (
        _event(artifact_media_type="application/vnd.amazon.soci.index.v1+json"),
        False,
    ),
    "untagged push (dropped by design)": (_event(artifact_media_type=IMAGE), False),
    "failed push": (_event(image_tag="v1", result="FAILURE"), False),
    "delete": (_event(image_tag="v1", action_type="DELETE"), False),
}


@pytest.fixture(scope="module")
def pattern(default_synth: Synth) -> str:
    (rule,) = [
        r for r in default_synth.templates["SociIndexBuilder"]["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and "aws.ecr" in str(r["Properties"])
    ]  # fmt: skip
    text = json.dumps(rule["Properties"]["EventPattern"])
    return text.replace('{"Ref": "AWS::AccountId"}', json.dumps(ACCOUNT)).replace(
        '{"Ref": "AWS::Region"}', json.dumps(REGION)
    )


@pytest.mark.parametrize("case", CASES)
def test_pattern(pattern: str, case: str) -> None:
    event, expected = CASES[case]
    # moto's TestEventPattern API is a stub; its rule matcher is what delivers events.
    assert EventPattern.load(pattern).matches_event(event) is expected
