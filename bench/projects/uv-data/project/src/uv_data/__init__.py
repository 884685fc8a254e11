"""uv-data: builds a small DataFrame and prints a summary line."""

import numpy as np
import pandas as pd
import yaml

from uv_data.report import monthly_totals

SMOKE = "uv-data smoke ok"
# The report's settings, as a deployment would ship them.
CONFIG = """
start: 2026-01-01
days: 90
"""


def main() -> None:
    config = yaml.safe_load(CONFIG)
    days = config["days"]
    rng = np.random.default_rng(42)
    frame = pd.DataFrame(
        {
            "day": pd.date_range(config["start"], periods=days, freq="D"),
            "units": rng.integers(1, 20, size=days),
            "price": np.round(rng.uniform(1.0, 9.0, size=days), 2),
        }
    )
    totals = monthly_totals(frame)
    total = float(totals["revenue"].sum())
    print(
        f"{SMOKE}: revenue={total:.2f} over {len(totals)} months "
        f"(numpy {np.__version__}, pandas {pd.__version__}, pyyaml {yaml.__version__})"
    )
