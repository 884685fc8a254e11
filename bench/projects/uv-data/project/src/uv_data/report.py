"""Aggregations over the daily frame."""

import pandas as pd


def monthly_totals(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(revenue=frame["units"] * frame["price"])
    return frame.groupby(frame["day"].dt.to_period("M"))[["units", "revenue"]].sum()
