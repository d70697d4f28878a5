"""The API behind a real gunicorn, as production runs it, and as a developer's machine does
(DEBUG on): raw HTTP over a socket, so what the WSGI server does with a request is part of it.

The server's database URL points at a port nothing listens on: every answer here is given before
a query, except the 500 the test provokes by needing one (a database that refuses connections).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.jobs.conftest import BASE_DIR, free_port, wait_until

GUNICORN = Path(sys.executable).with_name("gunicorn")


@dataclass
class Server:
    port: int
    log: Path

    def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send ``raw`` as is; the status, headers (lower-cased names) and body of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(raw)
            response = http.client.HTTPResponse(sock)
            response.begin()
            body = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, body

    def get(self, path: str, *extra_headers: str) -> tuple[int, dict[str, str], bytes]:
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *extra_headers]
        return self.request(("\r\n".join(lines) + "\r\n\r\n").encode())


# One server per settings module for the whole file: no test here writes anything the server keeps.
@pytest.fixture(scope="module", params=["config.settings.production", "config.settings.local"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    if not GUNICORN.exists():
        pytest.fail(f"gunicorn is a dependency but {GUNICORN} is missing")
    port, dead_db_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": request.param,
        "DJANGO_SECRET_KEY": "live-server-test-key",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"postgres://tunefolio@127.0.0.1:{dead_db_port}/tunefolio",
        "DATABASE_CONN_MAX_AGE": "0",
    }
    env.pop("DJANGO_DEBUG", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(GUNICORN), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def listening() -> bool:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                return False
            return True

        wait_until(listening, 30, "gunicorn to listen")
        yield Server(port, log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _error(body: bytes) -> dict:
    return json.loads(body)["error"]


def test_a_chunked_body_gets_411_saying_why(server):
    body = json.dumps({"records": [{"tune": "ticket-triage"}]}).encode()
    raw = (
        b"POST /api/v1/usage/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nX-Api-Key: abc.def\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
    )
    status, headers, answer = server.request(raw)
    assert status == 411
    assert headers["content-type"] == "application/json"
    error = _error(answer)
    assert error["code"] == "length_required"
    assert "Content-Length" in error["message"]


@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1/no-such-thing/", "/api/nothing"])
def test_unknown_api_paths_answer_the_envelope(server, path):
    status, headers, body = server.get(path)
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert _error(body) == {
        "code": "not_found",
        "message": f"No API endpoint at {path}.",
        "details": [],
    }
    assert "no-store" in headers["cache-control"]


def test_an_unhandled_failure_answers_the_envelope_without_a_traceback(server):
    # The API key is looked up in the database, which refuses connections.
    status, headers, body = server.get("/api/v1/teams/", "X-Api-Key: abcdefgh.secret")
    assert status == 500
    assert headers["content-type"] == "application/json"
    assert _error(body)["code"] == "server_error"
    text = body.decode()
    for leak in ("Traceback", "OperationalError", "connection", "SELECT", "127.0.0.1"):
        assert leak not in text
    deadline = time.monotonic() + 5
    while "Internal Server Error" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Internal Server Error: /api/v1/teams/" in server.log.read_text()  # still logged


def test_pages_carry_a_content_security_policy(server, request):
    # Production serves static files from collectstatic's manifest, which this checkout lacks;
    # the admin page is rendered under the local settings, and its policy is the same.
    local = request.node.callspec.params["server"].endswith("local")
    status, headers, _ = server.get("/admin/login/" if local else "/api/v1/nothing/")
    assert status == (200 if local else 404)
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "http" not in policy  # no other host
