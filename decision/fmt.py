"""Plain-words formatting of figures for messages, and JSON-safe conversion of figures.

Messages are read by people deciding about money, so amounts use thousands separators and
infinite paybacks read "never" instead of ``inf``.
"""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pandas as pd


def is_missing(value: object) -> bool:
    """True for None, NaN, NaT and pandas <NA>."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return False


def usd(value: float) -> str:
    """Whole dollars for amounts of $100 or more, cents below: "$12,400", "-$37.50"."""
    if is_missing(value):
        return "an unknown amount"
    sign = "-" if value < 0 else ""  # "-$240", not "$-240"
    if abs(value) >= 100:
        return f"{sign}${abs(value):,.0f}"
    return f"{sign}${abs(value):,.2f}"


def sentence(text: str) -> str:
    """The text with its first letter capitalised (unlike ``str.capitalize``, the rest stays)."""
    return text[:1].upper() + text[1:]


def nets(value: float, past: bool = False) -> str:
    """A monthly net saving as a verb phrase: "saves $240 a month", "loses $240 a month" (a
    negative saving is a loss, never "saves -$240"), "breaks even"; ``past`` for "saved"/"lost"."""
    if is_missing(value):
        return "had an unknown net saving" if past else "has an unknown net saving"
    if value > 0:
        return f"{'saved' if past else 'saves'} {usd(value)} a month"
    if value < 0:
        return f"{'lost' if past else 'loses'} {usd(-value)} a month"
    return "broke even" if past else "breaks even"


def per_month(value: float) -> str:
    """A monthly net saving as a noun phrase: "a net saving of $240 a month", "a net loss of
    $240 a month"."""
    if is_missing(value):
        return "an unknown net saving"
    if value < 0:
        return f"a net loss of {usd(-value)} a month"
    return f"a net saving of {usd(value)} a month"


def usd_per_query(value: float) -> str:
    """Per-query costs are tiny; four significant digits keep the difference visible."""
    if is_missing(value):
        return "unknown"
    return f"${value:.4g}"


def count(value: float) -> str:
    return "unknown" if is_missing(value) else f"{value:,.0f}"


def plural(value: float, noun: str) -> str:
    """ "1 meaningful task change", "3 meaningful task changes"."""
    return f"{count(value)} {noun}{'' if value == 1 else 's'}"


def number(value: float, digits: int = 2) -> str:
    """A plain number with up to ``digits`` decimals, trailing zeros dropped ("0.05", "1.5")."""
    if is_missing(value):
        return "unknown"
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def months(value: float) -> str:
    """ "never" for an infinite payback, else "14.2 months"."""
    if is_missing(value):
        return "an unknown number of months"
    if math.isinf(value):
        return "never"
    return f"{value:,.1f} months"


def pays_back(value: float) -> str:
    """ "pays back in 14.2 months", "never pays back", or "has an unknown payback"."""
    if is_missing(value):
        return "has an unknown payback"
    if math.isinf(value):
        return "never pays back"
    return f"pays back in {months(value)}"


def percent(value: float) -> str:
    return "unknown" if is_missing(value) else f"{value:.0%}"


def day(value: object) -> str:
    return "no date" if is_missing(value) else pd.Timestamp(value).date().isoformat()


def json_safe(value: object) -> object:
    """Figures as JSON-safe values: finite floats or None, ISO dates, bools, ints, strings."""
    if is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp | datetime | date | np.datetime64):
        return pd.Timestamp(value).date().isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)
