"""Day-by-day money, for charts: what each tune saved each day, priced exactly as the engine
prices the days behind its figures (each day at the prices in force that day)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from . import economics
from .inputs import Portfolio, as_day, normalise

DAILY_COLUMNS = ["tune_id", "day", "queries", "alternative_cost", "tune_cost", "net_saving"]


def daily_savings(portfolio: Portfolio, as_of: date) -> pd.DataFrame:
    """One row per tune (retired ones too) and day with usage up to ``as_of``.

    ``alternative_cost`` is what the best prompt/RAG setup would have cost that day, ``tune_cost``
    what the tune cost, ``net_saving`` their difference before fixed costs; NaN where a price
    was missing. Summed from a tune's last training and less its fixed cost per day, this is the
    engine's ``cumulative_net_saving``.
    """
    day = as_day(as_of)
    p = normalise(portfolio)
    daily = economics.usage_spans(p.usage, p.usage_spans, p.tunes.index, day)
    priced = economics.price_usage(daily, p.tunes, p)
    priced["net_saving"] = priced["alternative_cost"] - priced["tune_cost"]
    return priced.loc[:, DAILY_COLUMNS].reset_index(drop=True)
