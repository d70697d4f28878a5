"""Logging filters the settings name (importable before Django is set up)."""

from __future__ import annotations

import logging


class RequestIdDefault(logging.Filter):
    """Gives ``request_id`` to records made before the app installs its record factory (apps
    that log while Django starts), so the formatters never miss the field."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return True
