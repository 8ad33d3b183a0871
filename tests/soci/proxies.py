"""Forwarding proxies in front of the real registry that add one behaviour a test needs.

The product's own registry client talks to them, so the errors it raises are the ones it builds
from a real HTTP answer (store/remote/errors.py), not hand-made exceptions.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable

from soci_index_builder.store.remote.repository import MANIFEST_ACCEPT
from tests.fixtures.registry import FakeRequest, FakeResponse, LocalRegistry

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_TAG_PUT_RE = re.compile(r"/v2/(?P<repo>.+)/manifests/(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]*)$")


def forward(registry: LocalRegistry, request: FakeRequest) -> FakeResponse:
    """Send ``request`` on to the registry and return its answer unchanged."""
    headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
    forwarded = urllib.request.Request(
        registry.url + request.path,
        data=request.body or None,
        headers=headers,
        method=request.method,
    )
    try:
        with _OPENER.open(forwarded) as response:
            status, body, reply = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, body, reply = exc.code, exc.read(), dict(exc.headers)
    reply.pop("Transfer-Encoding", None)
    reply["Content-Length"] = str(len(body))
    return FakeResponse(status, reply, body)


def immutable_tags(
    registry: LocalRegistry, exclusions: tuple[str, ...] = ()
) -> Callable[[FakeRequest], FakeResponse]:
    """The strictest reading of ECR's immutable tags: ANY PUT to an existing tag answers 400
    TAG_INVALID, the identical manifest included (docs/ecr.md "Immutable tags": the answer is
    reported, not documented). The ECR stand-in accepts an identical re-put; this proxy is what
    makes the "the tag already names our output" path of ``soci/tags.py`` run.

    ``exclusions`` are tag suffixes that stay mutable (IMMUTABLE_WITH_EXCLUSION ``*<suffix>``).
    """

    def handle(request: FakeRequest) -> FakeResponse:
        match = _TAG_PUT_RE.search(request.path)
        if request.method == "PUT" and match and not match["tag"].endswith(exclusions):
            headers = {**request.headers, "accept": MANIFEST_ACCEPT}
            head = FakeRequest("HEAD", request.path, headers, b"")
            if forward(registry, head).status == 200:
                return _tag_invalid(match["repo"], match["tag"])
        return forward(registry, request)

    return handle


def _tag_invalid(repo: str, tag: str) -> FakeResponse:
    message = (
        f"The image tag '{tag}' already exists in the '{repo}' repository and cannot be"
        " overwritten because the repository is immutable."
    )
    body = json.dumps({"errors": [{"code": "TAG_INVALID", "message": message}]}).encode()
    return FakeResponse(400, {"Content-Type": "application/json"}, body)
