"""A real HTTP server on 127.0.0.1 that plays a provider's usage API from a script: per path, a
queue of answers (status, body, headers, delay) served in order, the last one repeated."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.jobs.conftest import free_port


@dataclass
class Answer:
    body: object = None
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


class ProviderServer:
    def __init__(self) -> None:
        self.script: dict[str, list[Answer]] = {}
        self.pages: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[tuple[str, dict, dict]] = []
        self.lock = threading.Lock()
        self.port = free_port()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                with owner.lock:
                    owner.requests.append((url.path, query, dict(self.headers)))
                    answer = owner.next_answer(url.path, query)
                time.sleep(answer.delay)
                body = json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        # stop() waits for the loop's next poll: a short interval saves half a second a test.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self, path: str, *answers: Answer, page: str | None = None) -> None:
        """Answers for ``path`` (for one value of its page parameter, if given)."""
        if page is None:
            self.script[path] = list(answers)
        else:
            self.pages[(path, page)] = list(answers)

    def next_answer(self, path: str, query: dict) -> Answer:
        page = (query.get("page") or [None])[0]
        queue = self.pages.get((path, page)) if page is not None else None
        if queue is None:
            queue = self.script.get(path)
        if not queue:
            return Answer({"error": "no such path"}, status=404)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def start(self) -> ProviderServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
