"""Request bodies: limited per route at the ASGI layer, and never read for a caller who is not authenticated.

The ASGI-level tests count calls of `receive`: the app must not pull one byte of a refused body. The
real-server test sends a 200 MB body over a socket to a uvicorn in a child process.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import pytest

from routewatch.config.web import WebConfig
from routewatch.store import Store
from routewatch.web import create_app
from tests.web.conftest import PASSWORD, Clock, token_for
from tests.web.realserver import serve

SMALL = 1000
UPLOAD = 5000
# Routes that read a JSON body, and whether they are for anyone (login) or need a caller.
ROUTES = [
    ("POST", "/api/login", True, SMALL), ("POST", "/api/alerts/a1/ack", False, SMALL),
    ("POST", "/api/alerts/a1/dismiss", False, SMALL), ("POST", "/api/users", False, SMALL),
    ("POST", "/api/tokens", False, SMALL), ("POST", "/api/replay/exports", False, SMALL),
    ("POST", "/api/corridors", False, UPLOAD), ("PUT", "/api/corridors/c1", False, UPLOAD),
    ("POST", "/api/corridors/import", False, UPLOAD), ("POST", "/api/backtest", False, UPLOAD),
]


@pytest.fixture
def app(store: Store, clock: Clock) -> Any:
    return create_app(store, WebConfig(max_body_bytes=SMALL, max_upload_bytes=UPLOAD), clock=clock)


def call(app: Any, method: str, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, int, bytes]:
    """One request straight into the ASGI app: its status, how many times it called `receive`, its body."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        if pulled > len(chunks):
            await asyncio.sleep(3600)  # the client has nothing more; a well-behaved app never asks
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], pulled, body


@pytest.mark.parametrize(("method", "path", "public", "limit"), ROUTES)
def test_a_declared_length_over_the_limit_is_413_before_a_byte_is_read(
    app: Any, store: Store, method: str, path: str, public: bool, limit: int,
) -> None:
    headers = {"content-type": "application/json", "content-length": str(limit + 1), **token_for(store, "admin")}
    status, pulled, body = call(app, method, path, headers, [b"x" * (limit + 1)])
    assert (status, pulled) == (413, 0)
    assert json.loads(body)["detail"] == f"the request body is {limit + 1} bytes; the limit is {limit}"


@pytest.mark.parametrize(("method", "path", "public", "limit"), [r for r in ROUTES if not r[2]])
@pytest.mark.parametrize("credentials", [{}, {"authorization": "Bearer rw_made-up"},
                                         {"cookie": "routewatch_session=forged"}])
def test_who_asks_is_checked_before_the_body_is_read(
    app: Any, method: str, path: str, public: bool, limit: int, credentials: dict[str, str],
) -> None:
    headers = {"content-type": "application/json", "content-length": "2", **credentials}
    status, pulled, _ = call(app, method, path, headers, [b"{}"])
    assert (status, pulled) == (401, 0)


def test_chunked_bodies_are_counted_as_they_stream(app: Any, store: Store) -> None:
    chunks = [b"x" * 400] * 1000  # 400 kB, no declared length
    login = {"transfer-encoding": "chunked", "content-type": "application/json"}
    status, pulled, body = call(app, "POST", "/api/login", login, chunks)
    assert status == 413 and pulled == 3  # 1200 bytes > 1000: refused at the third chunk
    assert json.loads(body)["detail"] == "the request body is over the limit of 1000 bytes"
    admin = {"transfer-encoding": "chunked", "content-type": "application/json", **token_for(store, "admin")}
    assert call(app, "POST", "/api/corridors", admin, chunks)[:2] == (413, 13)  # its limit is 5000


def test_bodies_within_the_limit_still_work(app: Any, store: Store) -> None:
    login = json.dumps({"username": "field", "password": PASSWORD}).encode()
    assert call(app, "POST", "/api/login", {"content-type": "application/json"}, [login])[0] == 200
    admin = {"content-type": "application/json", **token_for(store, "admin")}
    status, _, body = call(app, "POST", "/api/tokens", admin, [b'{"name": "bot", "role": "field"}'])
    assert status == 201 and json.loads(body)["token"].startswith("rw_")


def _send_until_answered(port: int, head: bytes, total: int, chunked: bool) -> tuple[bytes, int, float]:
    """Send `head` then up to `total` body bytes in 64 KiB pieces until the server answers.

    Returns the first bytes of the answer, how many body bytes had gone out and the seconds it took.
    """
    piece = b"x" * 65536
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
    sent, started = 0, time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(head)
        s.settimeout(0.0)
        while sent < total:
            try:
                got = s.recv(4096)
                if got:
                    return got, sent, time.monotonic() - started
            except BlockingIOError:
                pass
            try:
                sent += s.send(frame)
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:  # the server closed the connection after answering
                break
        s.settimeout(30)
        return s.recv(4096), sent, time.monotonic() - started


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_200_mb_unauthenticated_body_is_refused_at_once(db_url: str, store: Store, chunked: bool) -> None:
    big = 200 * 1024 * 1024
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {big}"
    with serve(db_url) as server:
        before = server.memory_mb()
        for path in ("/api/login", "/api/users", "/api/corridors"):
            head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{length}\r\n"
                    "\r\n").encode()
            answer, sent, seconds = _send_until_answered(server.port, head, big, chunked)
            # A declared length is refused before anything else; a chunked one to a route that needs a caller
            # is refused for want of one before it is read, and one to /api/login is counted.
            status = 401 if chunked and path != "/api/login" else 413
            assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
            assert sent < 32 * 1024 * 1024, f"{sent} bytes went out before the answer"
            print(f"{path} ({'chunked' if chunked else 'declared'}): {status} after {sent} bytes sent, {seconds:.3f} s")
        grown = server.memory_mb("VmHWM") - before
        print(f"memory: {before:.0f} MB before, peak {before + grown:.0f} MB")
        assert grown < 50
