"""JSON in: strict (no NaN/Infinity), bounded nesting, and no text that is not Unicode.

Bodies are parsed by orjson, which refuses all of that but the nesting bound; a body it refuses
goes to DRF's standard parser, which names what is wrong (a lone surrogate by its row and field).

NUL bytes are left to the fields (every string field refuses them, with its row and field), so a
usage batch still lists all of its errors together.
"""

from __future__ import annotations

import io
import re
from itertools import chain
from typing import Any

import orjson
from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .errors import InvalidInput, detail_item

#: Deeper than this is no request this API takes; refusing it keeps parsing bounded.
MAX_DEPTH = 32
#: A lone surrogate can only come escaped (``\ud800``): the body itself decoded as UTF-8. A body
#: without such an escape needs no look at each of its strings.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def text_problems(data) -> list[dict]:
    """Strings (values or keys) holding lone surrogates (JSON's ``"\\ud800"``), wherever they
    are: no database stores them."""
    problems = []
    stack: list[tuple[tuple[Any, ...], Any, int]] = [((), data, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems.append(detail_item(path, f"Nested deeper than {MAX_DEPTH} levels."))
            continue
        if isinstance(value, str):
            message = _bad_text(value)
            if message:
                problems.append(detail_item(path, message))
        elif isinstance(value, dict):
            for key, item in value.items():
                message = _bad_text(key)
                if message:
                    problems.append(detail_item(path, f"A key {message[0].lower()}{message[1:]}"))
                    continue
                stack.append(((*path, key), item, depth + 1))
        elif isinstance(value, list):
            stack.extend(((*path, i), item, depth + 1) for i, item in enumerate(value))
    problems.sort(key=lambda d: (d["row"] is not None, d["row"] or 0, d["field"] or ""))
    return problems


def nested_too_deep(data) -> bool:
    """Whether some value lies deeper than ``MAX_DEPTH`` (what :func:`text_problems` finds),
    level by level: a level without containers ends the walk, found by a set of its types."""
    level = [data]
    for _ in range(MAX_DEPTH + 1):
        types = set(map(type, level))
        if types == {dict}:  # e.g. a batch's records: their values gathered in C
            level = list(chain.from_iterable(map(dict.values, level)))
        elif types & {dict, list}:
            level = list(
                chain.from_iterable(
                    value.values() if type(value) is dict else value
                    for value in level
                    if type(value) in (dict, list)
                )
            )
        else:
            return False
    return bool(level)


def _bad_text(value: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Is not valid Unicode text (lone surrogate)."
    return None


class StrictJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        data = _parsed_fast(body, encoding)
        if data is _UNPARSED:
            try:
                data = super().parse(io.BytesIO(body), media_type, parser_context)
            except RecursionError as exc:
                raise ParseError("JSON parse error - nested too deeply.") from exc
            if SURROGATE_ESCAPE.search(body):
                return _without_text_problems(data)
        if nested_too_deep(data):
            return _without_text_problems(data)
        return data


_UNPARSED = object()


def _parsed_fast(body: bytes, encoding: str):
    """The body parsed by orjson, which refuses all the standard parser refuses here (NaN,
    Infinity, invalid UTF-8) and lone surrogates too; ``_UNPARSED`` when it refuses the body or
    the body is not UTF-8, which the standard parser then parses or explains."""
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return _UNPARSED
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _UNPARSED


def _without_text_problems(data):
    problems = text_problems(data)
    if problems:
        raise InvalidInput("The request holds text that cannot be stored.", problems)
    return data


class CSVTextParser(parsers.BaseParser):
    """A CSV file as text (``POST /api/v1/usage/import/?format=csv``)."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return stream.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError("The CSV is not UTF-8 text.") from exc
