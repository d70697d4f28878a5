"""HTTP clients for the usage APIs the nightly pull reads (no Django here). Each pages through the
whole period and returns the pages, in the shape its importer reads; nothing is returned unless
every page came, so a pull writes whole days or nothing.

Requests time out; 429 and 5xx answers (and timeouts, dropped connections) are retried with
exponential backoff, waiting what ``Retry-After`` asks when it is given.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import httpx

#: Longest wait a ``Retry-After`` may ask for before the pull gives up instead.
MAX_RETRY_AFTER = 300.0


class PullFailed(Exception):
    """The provider could not be read; nothing was written."""


@dataclass
class Http:
    """How to talk to a provider: timeout per request, retries, first backoff (doubling)."""

    timeout: float = 30.0
    retries: int = 4
    backoff: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    requests: int = field(default=0, init=False)

    def get_json(self, client: httpx.Client, url: str, params) -> object:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            wait = self.backoff * 2**attempt
            self.requests += 1
            try:
                response = client.get(url, params=params, timeout=self.timeout)
            except httpx.TimeoutException as exc:
                if last:
                    raise PullFailed(
                        f"{url} timed out after {self.timeout:g}s, {attempt + 1} attempts."
                    ) from exc
                self.sleep(wait)
                continue
            except httpx.TransportError as exc:
                if last:
                    raise PullFailed(f"{url} could not be reached: {exc}") from exc
                self.sleep(wait)
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                if last:
                    raise PullFailed(
                        f"{url} answered {status} {response.reason_phrase} "
                        f"after {attempt + 1} attempts."
                    )
                self.sleep(_retry_after(response) or wait)
                continue
            if status >= 400:
                raise PullFailed(f"{url} answered {status}: {response.text[:300]}")
            try:
                return response.json()
            except ValueError as exc:
                raise PullFailed(f"{url} answered something that is not JSON.") from exc
        raise AssertionError("unreachable")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (moment - datetime.now(UTC)).total_seconds()
    if seconds > MAX_RETRY_AFTER:
        raise PullFailed(f"{response.url} asks to wait {seconds:g}s; giving up for tonight.")
    return max(seconds, 0.0)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _iso(day: date) -> str:
    return _midnight(day).strftime("%Y-%m-%dT%H:%M:%SZ")


#: Pages above this many are refused: a provider that never stops paging is a bug, not data.
MAX_PAGES = 1000


def _cursor_pages(http: Http, client, url, params) -> list:
    """OpenAI's and Anthropic's pagination: ``has_more`` and a ``next_page`` cursor."""
    pages: list[object] = []
    while len(pages) < MAX_PAGES:
        page = http.get_json(client, url, params)
        pages.append(page)
        if not (isinstance(page, dict) and page.get("has_more") and page.get("next_page")):
            return pages
        params = {**params, "page": page["next_page"]}
    raise PullFailed(f"{url} still had more after {MAX_PAGES} pages.")


def fetch_openai(config: dict, start: date, end: date, http: Http) -> list:
    """Completions usage per model and day, ``start`` to ``end`` inclusive."""
    params = {
        "start_time": int(_midnight(start).timestamp()),
        "end_time": int(_midnight(end + timedelta(days=1)).timestamp()),
        "bucket_width": "1d",
        "group_by": ["model"],
        "limit": 31,
    }
    headers = {"Authorization": f"Bearer {config['key']}"}
    with httpx.Client(base_url=config["url"], headers=headers) as client:
        return _cursor_pages(http, client, "/v1/organization/usage/completions", params)


def fetch_anthropic(config: dict, start: date, end: date, http: Http) -> list:
    params = {
        "starting_at": _iso(start),
        "ending_at": _iso(end + timedelta(days=1)),
        "bucket_width": "1d",
        "group_by[]": ["model"],
        "limit": 31,
    }
    headers = {"x-api-key": config["key"], "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=config["url"], headers=headers) as client:
        return _cursor_pages(http, client, "/v1/organizations/usage_report/messages", params)


def fetch_litellm(config: dict, start: date, end: date, http: Http) -> list:
    """Spend logs from the proxy's paginated ``/spend/logs/v2``."""
    headers = {"Authorization": f"Bearer {config['key']}"}
    pages = []
    with httpx.Client(base_url=config["url"], headers=headers) as client:
        page_number = 1
        while page_number <= MAX_PAGES:
            params = {
                "start_date": f"{start.isoformat()} 00:00:00",
                "end_date": f"{end.isoformat()} 23:59:59",
                "page": page_number,
                "page_size": 100,
            }
            page = http.get_json(client, "/spend/logs/v2", params)
            pages.append(page)
            total = page.get("total_pages", 1) if isinstance(page, dict) else 1
            if page_number >= (total or 1):
                return pages
            page_number += 1
    raise PullFailed(f"LiteLLM still had more after {MAX_PAGES} pages.")


def fetch_langfuse(config: dict, start: date, end: date, http: Http) -> list:
    token = base64.b64encode(f"{config['public_key']}:{config['secret_key']}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    pages = []
    with httpx.Client(base_url=config["url"], headers=headers) as client:
        page_number = 1
        while page_number <= MAX_PAGES:
            params = {
                "fromTimestamp": _iso(start),
                "toTimestamp": _iso(end + timedelta(days=1)),
                "page": page_number,
                "limit": 50,
            }
            page = http.get_json(client, "/api/public/metrics/daily", params)
            pages.append(page)
            meta = page.get("meta", {}) if isinstance(page, dict) else {}
            if page_number >= (meta.get("totalPages") or 1):
                return pages
            page_number += 1
    raise PullFailed(f"Langfuse still had more after {MAX_PAGES} pages.")


FETCHERS = {
    "openai": fetch_openai,
    "anthropic": fetch_anthropic,
    "litellm": fetch_litellm,
    "langfuse": fetch_langfuse,
}
