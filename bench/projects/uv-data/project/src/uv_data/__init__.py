"""uv-data: builds a small DataFrame and prints a summary line."""

import numpy as np
import pandas as pd

from uv_data.report import monthly_totals

SMOKE = "uv-data smoke ok"


def main() -> None:
    rng = np.random.default_rng(42)
    frame = pd.DataFrame(
        {
            "day": pd.date_range("2026-01-01", periods=90, freq="D"),
            "units": rng.integers(1, 20, size=90),
            "price": np.round(rng.uniform(1.0, 9.0, size=90), 2),
        }
    )
    totals = monthly_totals(frame)
    total = float(totals["revenue"].sum())
    print(
        f"{SMOKE}: revenue={total:.2f} over {len(totals)} months "
        f"(numpy {np.__version__}, pandas {pd.__version__})"
    )
