"""A streamed upload's PATCH that failed after it may have been sent is resumed from the upload
status (``GET`` of the upload Location, distribution spec "Pushing blobs"), or fails as before.

Against the real docker-registry through a fault-injecting forwarder, and against a scripted
session for what that registry does not do (answer a status asked with a stale Location).
"""

from __future__ import annotations

import http.client
import io
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest

from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import DeadlineExceededError, RegistryError
from soci_index_builder.store.remote.client import RegistryClient
from soci_index_builder.store.remote.retry import RetryPolicy
from soci_index_builder.streams import copy_stream
from tests.fixtures.registry import FakeRequest, FakeResponse

if TYPE_CHECKING:
    from tests.fixtures.registry import FakeServer, LocalRegistry

    MakeServer = Callable[..., FakeServer]

PART = 64 << 10
#: Four parts through the forwarder: three whole ones and a short one.
LAYER = os.urandom(3 * PART + 3000)
SMALL_PART = 1024
#: Three parts against the scripted session.
BLOB = bytes(range(256)) * 11 + b"tail"
_NOT_RELAYED = frozenset({"connection", "content-length", "transfer-encoding", "date", "server"})


# --- the real registry, behind a forwarder that loses one PATCH --------------------------------


@dataclass
class Seen:
    """A request as the forwarder saw it; ``upstream`` is the registry's status, None when the
    request was never forwarded."""

    method: str
    content_range: str | None
    upstream: int | None = None


class Forwarder:
    """Plain HTTP on 127.0.0.1 -> ``upstream``. ``faults`` maps a PATCH's number (1-based) to
    ``"unsent"`` (the connection is closed, the registry never sees the request) or ``"lost"``
    (forwarded, then the connection is closed before the registry's answer is relayed)."""

    def __init__(self, upstream: str, faults: dict[int, str]) -> None:
        self.upstream = upstream
        self.faults = faults
        self.seen: list[Seen] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _forwarding_handler(self))
        self._server.daemon_threads = True
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def client(self) -> RegistryClient:
        return RegistryClient(self.host, plain_http=True, chunk_size=PART, backoff_base=0.001)

    def methods(self) -> list[str]:
        return [s.method for s in self.seen]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _forwarding_handler(forwarder: Forwarder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            seen = Seen(self.command, self.headers.get("Content-Range"))
            forwarder.seen.append(seen)
            patches = sum(s.method == "PATCH" for s in forwarder.seen)
            fault = forwarder.faults.get(patches) if self.command == "PATCH" else None
            if fault == "unsent":
                self.close_connection = True
                return
            host, _, port = forwarder.upstream.rpartition(":")
            upstream = http.client.HTTPConnection(host, int(port), timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_RELAYED}
                upstream.request(self.command, self.path, body, headers)  # Host kept: Locations
                response = upstream.getresponse()  # name the forwarder
                data = response.read()
                answer = response.getheaders()
                seen.upstream = response.status
            finally:
                upstream.close()
            if fault == "lost":
                self.close_connection = True
                return
            self.send_response(response.status)
            for key, value in answer:
                if key.lower() not in _NOT_RELAYED:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

    return Handler


@pytest.fixture
def forwarder(registry: LocalRegistry) -> Iterator[Callable[[dict[int, str]], Forwarder]]:
    made: list[Forwarder] = []

    def make(faults: dict[int, str]) -> Forwarder:
        made.append(Forwarder(registry.host, faults))
        return made[-1]

    yield make
    for each in made:
        each.close()


def _read_back(registry: LocalRegistry, name: str, digest: str, size: int) -> bytes:
    sink = io.BytesIO()
    with registry.client().repository(name).open_blob(digest, size) as reader:
        copy_stream(reader, sink, 1 << 16)
    return sink.getvalue()


@pytest.mark.registry
@pytest.mark.parametrize("lost", [1, 2, 4])
def test_patch_that_never_reached_the_registry_is_resumed(
    registry: LocalRegistry, forwarder: Callable[[dict[int, str]], Forwarder], lost: int
) -> None:
    """The status (``Range: 0-0`` before the first part, docker-registry's empty session) says
    the part is missing: it is sent again, whole, and the blob is right."""
    proxy = forwarder({lost: "unsent"})
    name = f"resume/{uuid.uuid4().hex[:12]}"
    digest, size = proxy.client().repository(name).push_blob_stream(io.BytesIO(LAYER))
    assert (digest, size) == (sha256_digest(LAYER), len(LAYER))
    assert _read_back(registry, name, digest, size) == LAYER
    patches = [s for s in proxy.seen if s.method in ("PATCH", "GET")]
    assert [(s.method, s.content_range) for s in patches[lost - 1 : lost + 2]] == [
        ("PATCH", f"{(lost - 1) * PART}-{min(lost * PART, len(LAYER)) - 1}"),
        ("GET", None),
        ("PATCH", f"{(lost - 1) * PART}-{min(lost * PART, len(LAYER)) - 1}"),
    ]
    assert [s.upstream for s in patches] == [202] * (lost - 1) + [None, 204] + [202] * (5 - lost)


@pytest.mark.registry
def test_patch_whose_answer_was_lost_fails_against_docker_registry(
    registry: LocalRegistry, forwarder: Callable[[dict[int, str]], Forwarder]
) -> None:
    """docker-registry 2.8 appended the part, but refuses to tell: the Location we hold carries
    the session's old offset (its ``_state``) and the status GET answers 404 BLOB_UPLOAD_INVALID
    ("upload resumed at wrong offset"). The PATCH's error is raised, noted; nothing is sent
    twice."""
    proxy = forwarder({2: "lost"})
    repo = proxy.client().repository(f"resume/{uuid.uuid4().hex[:12]}")
    with pytest.raises(RegistryError) as caught:
        repo.push_blob_stream(io.BytesIO(LAYER))
    message = str(caught.value)
    assert caught.value.transient and "connection failed" in message
    assert "not resumed: no upload status" in message and "BLOB_UPLOAD_INVALID" in message
    assert [(s.method, s.upstream) for s in proxy.seen] == [
        ("POST", 202),
        ("PATCH", 202),
        ("PATCH", 202),  # appended by the registry; its answer never reached the client
        ("GET", 404),
    ]


# --- a scripted session: what a registry that answers with its current offset does ------------


class SpecSession:
    """One upload session as the spec describes it: a PATCH must start where the session ends
    (else 416), every answer names a new Location, and the status GET answers with the bytes
    held whatever Location it is asked with. ``faults`` maps a PATCH's number (1-based) to
    ``"unsent"`` (dropped unread), ``"lost"`` (appended, answer dropped) or ``"half"`` (half
    appended, answer dropped)."""

    def __init__(self, faults: dict[int, str] | None = None) -> None:
        self.faults = faults or {}
        self.data = bytearray()
        self.patches = 0

    def __call__(self, request: FakeRequest) -> FakeResponse:
        if request.method == "POST":
            return FakeResponse(202, self._where())
        if request.method == "GET":
            return FakeResponse(204, self._where())
        if request.method == "PUT":
            digest = parse_qs(urlsplit(request.path).query)["digest"][0]
            return FakeResponse(201 if digest == sha256_digest(bytes(self.data)) else 400)
        self.patches += 1
        fault = self.faults.get(self.patches)
        if int(request.headers["content-range"].partition("-")[0]) != len(self.data):
            return FakeResponse(416)
        if fault == "unsent":
            return FakeResponse(drop=True)
        body = request.body[: len(request.body) // 2] if fault == "half" else request.body
        self.data += body
        return FakeResponse(drop=True) if fault else FakeResponse(202, self._where())

    def _where(self) -> dict[str, str]:
        return {
            "Location": f"/v2/app/blobs/uploads/u1?at={len(self.data)}",
            "Range": f"0-{max(len(self.data) - 1, 0)}",
        }


def _push(server: FakeServer, **options: Any) -> tuple[str, int]:
    client = server.client(chunk_size=SMALL_PART, **options)
    return client.repository("app").push_blob_stream(io.BytesIO(BLOB))


def _requests(server: FakeServer) -> list[tuple[str, str | None]]:
    return [(r.method, r.headers.get("content-range")) for r in server.requests]


@pytest.mark.parametrize(
    ("fault", "resent"),
    [("lost", None), ("half", f"{SMALL_PART + SMALL_PART // 2}-{2 * SMALL_PART - 1}")],
)
def test_lost_answer_is_resumed_from_the_reported_end(
    fake_server: MakeServer, fault: str, resent: str | None
) -> None:
    """All of the part arrived: nothing is sent again; half of it: the other half is."""
    session = SpecSession({2: fault})
    server = fake_server(session)
    assert _push(server) == (sha256_digest(BLOB), len(BLOB))
    assert bytes(session.data) == BLOB
    part = f"{SMALL_PART}-{2 * SMALL_PART - 1}"
    expected = [("POST", None), ("PATCH", f"0-{SMALL_PART - 1}"), ("PATCH", part), ("GET", None)]
    expected += [("PATCH", resent)] if resent else []
    expected += [("PATCH", f"{2 * SMALL_PART}-{len(BLOB) - 1}"), ("PUT", None)]
    assert _requests(server) == expected
    assert server.requests[-2].path.endswith(f"?at={2 * SMALL_PART}")  # the status's Location


@pytest.mark.parametrize("status", [404, 405])
def test_no_upload_status_raises_the_patch_error(fake_server: MakeServer, status: int) -> None:
    session = SpecSession({1: "lost"})

    def handler(request: FakeRequest) -> FakeResponse:
        return FakeResponse(status) if request.method == "GET" else session(request)

    server = fake_server(handler)
    with pytest.raises(RegistryError) as caught:
        _push(server)
    assert caught.value.transient and "connection failed" in str(caught.value)
    assert f"not resumed: no upload status (status of chunked upload: HTTP {status}" in str(
        caught.value
    )
    assert [r.method for r in server.requests] == ["POST", "PATCH", "GET"]


@pytest.mark.parametrize(
    "range_",
    [
        None,
        "",
        "bytes=0-1023",
        "0-",
        "0-1023x",
        "1-1023",
        "0--1",
        "0-1022",  # before the part's first byte (1024 held would be "0-1023")
        f"0-{2 * SMALL_PART}",  # past the part's end
    ],
)
def test_unusable_range_raises_the_patch_error(fake_server: MakeServer, range_: str | None) -> None:
    session = SpecSession({2: "lost"})

    def handler(request: FakeRequest) -> FakeResponse:
        if request.method != "GET":
            return session(request)
        headers = {"Location": "/v2/app/blobs/uploads/u1?status"}
        return FakeResponse(204, headers | ({} if range_ is None else {"Range": range_}))

    server = fake_server(handler)
    with pytest.raises(RegistryError) as caught:
        _push(server)
    assert "connection failed" in str(caught.value) and "not resumed: " in str(caught.value)
    assert [r.method for r in server.requests] == ["POST", "PATCH", "PATCH", "GET"]


def test_status_without_location_raises_the_patch_error(fake_server: MakeServer) -> None:
    session = SpecSession({1: "unsent"})

    def handler(request: FakeRequest) -> FakeResponse:
        return FakeResponse(204, {"Range": "0-0"}) if request.method == "GET" else session(request)

    server = fake_server(handler)
    with pytest.raises(RegistryError, match="not resumed: the upload status has no Location"):
        _push(server)
    assert [r.method for r in server.requests] == ["POST", "PATCH", "GET"]


def test_resumes_are_bounded_by_the_policy(fake_server: MakeServer) -> None:
    """A server that loses every answer: max_attempts PATCHes of the part, backoff between."""
    session = SpecSession({n: "unsent" for n in range(1, 100)})
    server = fake_server(session)
    sleeps: list[float] = []
    with pytest.raises(RegistryError) as caught:
        _push(server, max_attempts=4, retry_policy=RetryPolicy(sleep=sleeps.append))
    assert "not resumed: 4 tries failed" in str(caught.value)
    assert [r.method for r in server.requests] == ["POST"] + ["PATCH", "GET"] * 3 + ["PATCH"]
    assert len(sleeps) == 3


def test_status_failures_count_against_the_same_budget(fake_server: MakeServer) -> None:
    session = SpecSession({1: "unsent"})

    def handler(request: FakeRequest) -> FakeResponse:
        return FakeResponse(503) if request.method == "GET" else session(request)

    server = fake_server(handler)
    with pytest.raises(RegistryError) as caught:
        _push(server, max_attempts=3)
    assert "not resumed: 3 tries failed, the last: status of chunked upload: HTTP 503" in str(
        caught.value
    )
    assert [r.method for r in server.requests] == ["POST", "PATCH", "GET", "GET"]


def test_resume_stops_at_the_deadline(fake_server: MakeServer) -> None:
    """A 503 asking for 30 s when 5 s are left: no wait, no status request."""
    session = SpecSession()

    def handler(request: FakeRequest) -> FakeResponse:
        if request.method == "PATCH":
            return FakeResponse(503, {"Retry-After": "30"})
        return session(request)

    server = fake_server(handler)
    with pytest.raises(DeadlineExceededError):
        _push(server, deadline=time.monotonic() + 5)
    assert [r.method for r in server.requests] == ["POST", "PATCH"]
