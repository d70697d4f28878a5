"""Reading stored figures back: JSON values that may be missing, text or not finite."""

from __future__ import annotations

import math
from datetime import date


def finite_number(value: object) -> float | None:
    """The value as a finite float, or None (missing, not a number, NaN or infinite)."""
    try:
        number = float(value)  # type: ignore[arg-type]  # anything float() takes, else None
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_day(value: object) -> date | None:
    """The value as a date (a date, or ISO text starting with one), or None."""
    if not value:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
