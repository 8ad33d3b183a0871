"""The Lambda's DynamoDB zTOC catalogue: moto for the table, the real registry for the data.

GIVEN the table the CDK app creates (same keys, TTL attribute), WHEN images sharing layers are
indexed in two repositories, THEN the second reuses the first's zTOCs; an unreachable table
(wrong endpoint: down) never fails a build, it only costs a rebuild.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from functions.indexer.catalogue import TTL_DAYS, DynamoCatalogue, dynamodb_client
from functions.indexer.indexer import Indexer
from functions.shared.registries import Registries
from soci_index_builder.oci.model import Descriptor
from soci_index_builder.soci.build import build_image_index
from soci_index_builder.soci.catalogue import CatalogueEntry, ZtocKey
from soci_index_builder.store.layout import LayoutRepository
from tests.fixtures.images import push_image
from tests.fixtures.registry import LocalRegistry
from tests.functions.conftest import SetParameters
from tests.functions.helpers import (
    FakeContext,
    ecr_push_event,
    emf_metrics,
    failed_ids,
    sqs_batch,
)
from tests.soci.conftest import SETTINGS, big_gzip

TABLE = "ztocs"
KEY = ZtocKey("sha256:" + "a" * 64, 4 << 20, "AWS SOCI CLI v0.2", "gzip")
THROTTLED = "ProvisionedThroughputExceededException"
ENTRY = CatalogueEntry("sha256:" + "b" * 64, 1234, "host/app")


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The table as infra/catalogue.py declares it (layer + variant keys), in moto."""
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield create_table()


def create_table() -> Any:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "layer", "AttributeType": "S"},
            {"AttributeName": "variant", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "layer", "KeyType": "HASH"},
            {"AttributeName": "variant", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def test_round_trip_with_ttl_and_replacement(table: Any) -> None:
    catalogue = DynamoCatalogue(TABLE, dynamodb_client)
    assert catalogue.lookup(KEY) is None
    replacement = Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", "sha256:" + "c" * 64, 9)
    catalogue.record(KEY, ENTRY)
    zstd_key = ZtocKey(KEY.layer_digest, KEY.span_size, KEY.build_tool, "zstd")
    catalogue.record(zstd_key, CatalogueEntry(ENTRY.ztoc_digest, 1, "x/y", replacement))
    assert catalogue.lookup(KEY) == ENTRY
    assert catalogue.lookup(zstd_key) == CatalogueEntry(ENTRY.ztoc_digest, 1, "x/y", replacement)
    assert catalogue.lookup(ZtocKey(KEY.layer_digest, 1 << 20, KEY.build_tool, "gzip")) is None
    item = table.get_item(
        TableName=TABLE,
        Key={"layer": {"S": KEY.layer_digest}, "variant": {"S": "4194304/gzip/AWS SOCI CLI v0.2"}},
    )["Item"]
    expires = int(item["expires_at"]["N"]) - time.time()
    assert TTL_DAYS * 86_400 - 60 < expires <= TTL_DAYS * 86_400


def test_from_environment(table: Any) -> None:
    assert DynamoCatalogue.from_environment(dynamodb_client, {}) is None
    made = DynamoCatalogue.from_environment(dynamodb_client, {"ZTOC_TABLE_NAME": TABLE})
    assert made is not None and made.table == TABLE


@pytest.mark.registry
def test_two_repositories_share_through_the_table(table: Any, registry: Any) -> None:
    client = registry.client()
    first, second = client.repository("lambda/a"), client.repository("lambda/b")
    catalogue = DynamoCatalogue(TABLE, dynamodb_client)
    push_image(first, "1", [big_gzip(1), big_gzip(2)])
    push_image(second, "1", [big_gzip(1), big_gzip(3)])
    one = build_image_index(first, "1", SETTINGS, catalogue=catalogue)
    two = build_image_index(second, "1", SETTINGS, catalogue=catalogue)
    assert [layer.status for layer in two.layers] == ["reused", "indexed"]
    assert two.layers[0].reused_from == first.name
    assert two.layers[0].ztoc_digest == one.layers[0].ztoc_digest


def test_throttled_table_is_a_miss_and_a_failed_record(
    table: Any, caplog: Any, tmp_path: Path
) -> None:
    """DynamoDB throttling (botocore's own Stubber answers) reaches the reuse step's guard."""
    from botocore.stub import Stubber

    from soci_index_builder.soci.catalogue.reuse import Reuser

    client = dynamodb_client()
    stubber = Stubber(client)
    for method in ("get_item", "put_item"):
        stubber.add_client_error(
            method, "ProvisionedThroughputExceededException", http_status_code=400
        )
    target = LayoutRepository(tmp_path / "layout", create=True)
    reuser = Reuser(target, DynamoCatalogue(TABLE, lambda: client))
    with stubber:
        assert reuser.reuse(KEY, 10) is None
        reuser.record(KEY, ENTRY.ztoc_digest, ENTRY.ztoc_size, None)
    stubber.assert_no_pending_responses()
    assert "catalogue lookup failed (" + THROTTLED in caplog.text
    assert "catalogue record failed (" + THROTTLED in caplog.text


@pytest.mark.registry
@pytest.mark.parametrize("broken", ["missing-table", "endpoint-down"])
def test_unreachable_table_costs_a_rebuild(
    table: Any, registry: Any, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    if broken == "missing-table":
        catalogue = DynamoCatalogue("no-such-table", dynamodb_client)
    else:
        down = boto3.client(
            "dynamodb",
            endpoint_url="http://127.0.0.1:9",
            config=Config(retries={"max_attempts": 1}, connect_timeout=0.5),
        )
        catalogue = DynamoCatalogue(TABLE, lambda: down)
    repo = registry.client().repository(f"lambda/{broken}")
    push_image(repo, "1", [big_gzip(1)])
    result = build_image_index(repo, "1", SETTINGS, catalogue=catalogue)
    assert result.status == "built"
    assert [layer.status for layer in result.layers] == ["indexed"]
    assert "zTOC catalogue lookup failed" in caplog.text
    assert "zTOC catalogue record failed" in caplog.text


@pytest.mark.registry
def test_lambda_reports_reused_ztocs_in_metrics_and_result_detail(
    registry: LocalRegistry,
    set_parameters: SetParameters,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The deployed wiring: ZTOC_TABLE_NAME in the environment, the Indexer's own catalogue."""
    monkeypatch.setenv("REGISTRY_ENDPOINT", registry.url)
    monkeypatch.setenv("ZTOC_TABLE_NAME", TABLE)
    set_parameters(settings='{"min_layer_size": 10000, "span_size": 65536}')
    create_table()
    indexer = Indexer.from_environment()
    indexer.registries = Registries(lambda host, plain: registry.client())
    assert isinstance(indexer.catalogue, DynamoCatalogue)
    client, prefix = registry.client(), uuid.uuid4().hex[:8]
    first, second = (client.repository(f"{prefix}/{name}") for name in ("base", "app"))
    for repo, top in ((first, 2), (second, 3)):
        raw = push_image(repo, "v1", [big_gzip(1), big_gzip(top)])
        response = indexer.handle(
            sqs_batch(ecr_push_event(repo.path, "v1", raw.digest)), FakeContext()
        )
        assert failed_ids(response) == []
    out = capsys.readouterr().out
    metrics = [(name, value) for name, value, _ in emf_metrics(out)]
    assert metrics.count(("ZtocsBuilt", 1)) == 3 and metrics.count(("ZtocsReused", 1)) == 1
    details = [r.result for r in caplog.records if hasattr(r, "result")]
    assert [z["status"] for z in details[-1]["ztocs"]] == ["reused", "built"]
    assert details[-1]["ztocs"][0]["from"] == first.name
