"""Real things for the job tests: an SMTP server in the test, Celery worker processes on a real
broker, a Redis server of our own to stop and start. Every process started here is killed in
teardown, whatever the test did."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from config.celery_app import app
from tests.services import require, require_redis

BASE_DIR = Path(__file__).resolve().parent.parent.parent
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval=0.2):
    """Poll ``predicate`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- SMTP -----------------------------------------------------------------------------------------


@dataclass
class Received:
    recipients: list[str]
    message: email.message.EmailMessage


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps what it accepts, refuses (550) or defers (451) addresses."""

    refuse: set[str] = field(default_factory=set)
    defer_once: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            if address in self.refuse:
                self.refused.append(address)
                return "550 5.1.1 No such mailbox here"
            if address in self.defer_once:
                self.defer_once.discard(address)
                self.deferred.append(address)
                return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [r.message for r in self.received if address in r.recipients]

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def reset(self) -> None:
        with self.lock:
            self.refuse.clear()
            self.defer_once.clear()
            self.received.clear()
            self.refused.clear()
            self.deferred.clear()


@dataclass
class SMTPServer:
    host: str
    port: int
    mailbox: Mailbox


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SMTPServer]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd), for the module."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SMTPServer("127.0.0.1", controller.port, mailbox)
    finally:
        controller.stop()


@pytest.fixture
def smtp(smtp_server) -> SMTPServer:
    smtp_server.mailbox.reset()
    yield smtp_server
    smtp_server.mailbox.reset()


# --- The database the worker processes share with the test -------------------------------------


def database_url() -> str:
    """The test database as a URL, for a worker process to open the very same database."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(settings["NAME"])
        if name.startswith(":memory:") or "mode=memory" in name:
            pytest.fail("the end-to-end tests need the SQLite test database in a file")
        return f"sqlite:///{name}"
    if connection.vendor == "postgresql":
        user = quote(settings.get("USER") or "")
        password = quote(settings.get("PASSWORD") or "")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings.get("HOST") or "127.0.0.1"
        port = settings.get("PORT") or 5432
        return f"postgres://{auth}{host}:{port}/{settings['NAME']}"
    pytest.fail(f"no worker database URL for {settings['ENGINE']}")


# --- Worker processes -----------------------------------------------------------------------------


@dataclass
class Worker:
    """``celery -A config.celery_app worker`` in its own process group, logging to a file."""

    env: dict[str, str]
    queue: str
    log: Path
    concurrency: int = 1
    beat: bool = False
    proc: subprocess.Popen | None = None
    starts: int = 0

    def start(self, timeout: float = 60) -> Worker:
        self.starts += 1
        self.log.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config.celery_app",
            "worker",
            "--loglevel",
            "INFO",
            "--queues",
            self.queue,
            "--concurrency",
            str(self.concurrency),
            "--hostname",
            f"{self.queue}-{self.starts}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        if self.beat:
            command += ["--beat", "--schedule", str(self.log.with_suffix(".beat"))]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill the pool children too
            )
        wait_until(
            lambda: self.proc.poll() is not None or " ready." in self.text()[offset:],
            timeout,
            "the worker to start",
        )
        if self.proc.poll() is not None:
            pytest.fail(f"the worker exited with {self.proc.returncode}:\n{self.text()[-4000:]}")
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def count(self, needle: str) -> int:
        return self.text().count(needle)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its pool, as when the machine under it dies."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if not self.running:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # any pool child left behind


def worker_env(broker_url: str, queue: str, smtp: SMTPServer | None = None, **extra) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "DJANGO_", "EMAIL_", "TUNEFOLIO_", "DATABASE_"))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DATABASE_URL": database_url(),
        "PYTHONUNBUFFERED": "1",
    }
    if smtp is not None:
        env |= {
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": smtp.host,
            "EMAIL_PORT": str(smtp.port),
            "EMAIL_TIMEOUT": "10",
        }
    env |= {key: str(value) for key, value in extra.items()}
    return env


@pytest.fixture
def workers(tmp_path) -> Iterator[list[Worker]]:
    """Workers a test starts; all stopped (killed if need be) in teardown."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def new_queue() -> str:
    """A queue of its own, so no other worker on the same Redis takes these tasks."""
    return f"tunefolio-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def publish(broker_url: str, queue: str, task: str, transport_options=None, **kwargs) -> None:
    """Send a task by name to ``queue`` on ``broker_url``, as beat does; raises when the broker
    cannot be reached."""
    from kombu import Connection

    with (
        Connection(broker_url, transport_options=transport_options or {}) as conn,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # "always eager is ignored": we mean to send
        app.send_task(
            task,
            kwargs=kwargs,
            queue=queue,
            connection=conn,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.2},
        )


@pytest.fixture
def broker(request) -> str:
    """The shared test Redis (skips without it, fails under CI=true)."""
    return require_redis()


@pytest.fixture
def clean_queues(broker) -> Iterator[list[str]]:
    """Queues a test used; their keys are deleted afterwards."""
    import redis

    queues: list[str] = []
    yield queues
    client = redis.Redis.from_url(broker)
    for queue in queues:
        client.delete(queue)
    client.close()


# --- A Redis server of our own ------------------------------------------------------------------


@dataclass
class OwnRedis:
    port: int
    directory: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(self.answers, 20, "redis-server to answer")

    def client(self):
        import redis

        return redis.Redis(port=self.port, socket_timeout=5)

    def pause(self) -> None:
        """SIGSTOP: the server keeps its port and accepts connections but answers nothing, as a
        hung Redis does."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def answers(self) -> bool:
        import redis

        try:
            client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.resume()  # a stopped process would not act on SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:
    """A redis-server on a free port that the test may stop and start (never the shared one)."""
    require("redis-server", os.path.exists(REDIS_SERVER), f"no {REDIS_SERVER}")
    server = OwnRedis(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- This process as the web app --------------------------------------------------------------


@contextlib.contextmanager
def web_app_on(broker_url: str, settings):
    """Point this (test) process's Celery at ``broker_url``, not eager, as the web app runs in
    production; and its cache at the same Redis, where production keeps it."""
    saved = {
        k: app.conf[k] for k in ("broker_url", "broker_transport_options", "task_always_eager")
    }
    drop_broker_connections()
    app.conf.update(
        broker_url=broker_url,
        broker_transport_options=settings.REDIS_BROKER_TRANSPORT_OPTIONS,
        task_always_eager=False,
    )
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": broker_url.rsplit("/", 1)[0] + "/1",
            "OPTIONS": settings.REDIS_CACHE_OPTIONS,
        }
    }
    try:
        yield
    finally:
        drop_broker_connections()
        app.conf.update(saved)


def drop_broker_connections() -> None:
    """Forget the app's pooled broker connections, so the next publish takes a pool for the
    configured broker URL. (Not closed: kombu keeps pools per URL and would hand back a closed
    one.)"""
    app._pool = None
    app.amqp._producer_pool = None


# --- An HTTP endpoint for webhooks ----------------------------------------------------------------


@dataclass
class HookRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Hook:
    """Answers each path with the next of its scripted answers (the last one repeats).
    An answer is a status code, or ("sleep", seconds, code) to answer late."""

    url: str
    script: dict[str, list] = field(default_factory=dict)
    received: list[HookRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, path: str) -> list[HookRequest]:
        with self.lock:
            return [r for r in self.received if r.path == path]


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.received.append(HookRequest(self.path, dict(self.headers), body))
                answers = state.script.setdefault(self.path, [200])
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if isinstance(answer, tuple):
                time.sleep(answer[1])
                answer = answer[2]
            text = b"ok" if answer < 400 else b"nope: bad channel"
            try:
                self.send_response(answer)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
            except OSError:
                pass  # the client gave up waiting

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # shutdown() waits for the loop's next poll: a short interval saves half a second a test.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
