"""Domain errors the services raise; the API maps them to HTTP statuses (``tracker.api.errors``)."""

from __future__ import annotations


class Conflict(Exception):
    """The request is valid but the tune's state forbids it (HTTP 409)."""


class TuneRetired(Conflict):
    """Retired tunes are not evaluated."""
