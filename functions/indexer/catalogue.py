"""The Lambda's zTOC catalogue: a DynamoDB table shared by every invocation (docs/reuse.md).

One item per zTOC key: partition key ``layer`` (the layer digest), sort key ``variant``
(span size, source compression, build-tool identifier), written after the zTOC was pushed,
with a TTL so entries of layers nobody pushes any more go away for free. The role may only
``GetItem`` and ``PutItem``: a bad entry is not deleted but overwritten by the rebuild it
causes. The boto3 client is injected (its retries and timeouts are short on purpose: an
unreachable table only costs a rebuild, which the engine's reuse step guarantees).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when first used: a skip-only container needs neither
    from soci_index_builder.soci.catalogue import CatalogueEntry, ZtocKey

#: The table's name, set by the CDK app; no variable means no catalogue (previous output only).
ENV_TABLE = "ZTOC_TABLE_NAME"
#: Days an entry lives after it was last written (DynamoDB TTL on ``expires_at``).
TTL_DAYS = 90
_DAY = 86_400


class DynamoCatalogue:
    """The :class:`~soci_index_builder.soci.catalogue.Catalogue` of one DynamoDB table.

    The client is made on first use (``client_factory``), so a container that only skips
    never imports boto3; build threads share it (boto3 clients are thread-safe).
    """

    def __init__(
        self, table: str, client_factory: Callable[[], Any], *, ttl_days: int = TTL_DAYS
    ) -> None:
        self.table = table
        self._factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()
        self._ttl = ttl_days * _DAY

    @classmethod
    def from_environment(
        cls, client_factory: Callable[[], Any], environ: Mapping[str, str] = os.environ
    ) -> DynamoCatalogue | None:
        """The deployed table (``ZTOC_TABLE_NAME``), or None when the stack has none."""
        table = environ.get(ENV_TABLE, "").strip()
        return cls(table, client_factory) if table else None

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            return self._client

    def lookup(self, key: ZtocKey) -> CatalogueEntry | None:
        from soci_index_builder.oci.model import Descriptor
        from soci_index_builder.soci.catalogue import CatalogueEntry

        item = self.client.get_item(TableName=self.table, Key=_key(key)).get("Item")
        if not item:
            return None
        replacement = None
        if "replacement" in item:
            rep = json.loads(item["replacement"]["S"])
            replacement = Descriptor(str(rep["mediaType"]), str(rep["digest"]), int(rep["size"]))
        return CatalogueEntry(
            item["ztoc_digest"]["S"], int(item["ztoc_size"]["N"]), item["where"]["S"], replacement
        )

    def record(self, key: ZtocKey, entry: CatalogueEntry) -> None:
        item: dict[str, Any] = {
            **_key(key),
            "ztoc_digest": {"S": entry.ztoc_digest},
            "ztoc_size": {"N": str(entry.ztoc_size)},
            "where": {"S": entry.where},
            "expires_at": {"N": str(int(time.time()) + self._ttl)},
        }
        if entry.replacement is not None:
            rep = entry.replacement
            doc = {"mediaType": rep.media_type, "digest": rep.digest, "size": rep.size}
            item["replacement"] = {"S": json.dumps(doc, sort_keys=True)}
        self.client.put_item(TableName=self.table, Item=item)

    def drop(self, key: ZtocKey) -> None:
        """Nothing to do: the rebuild that follows overwrites the entry (no DeleteItem right)."""


def _key(key: ZtocKey) -> dict[str, Any]:
    variant = f"{key.span_size}/{key.compression}/{key.build_tool}"
    return {"layer": {"S": key.layer_digest}, "variant": {"S": variant}}


def dynamodb_client() -> Any:
    """A DynamoDB client that gives up quickly: a slow table must not eat the build's time."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    config = Config(
        retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=3
    )
    return boto3.client("dynamodb", config=config)
