"""Deterministic, seedable generator of Indian house listings.

Prices follow a multiplicative model (city base rate per sq ft x area x locality tier x age x
floor x furnishing x parking x metro proximity) with log-normal noise, so a good regressor can
explain most of the variance but not all of it. A fraction of rows can be deliberately
malformed (one defect each) to exercise validation and quarantine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from app.market import AGE_DECAY_PER_YEAR, CITY_PRICE_PER_SQFT, FURNISHING_FACTOR, TIER_FACTOR
from app.schema import CITIES, FIELD_NAMES, FURNISHING, LABEL

CITY_WEIGHTS = np.array([0.17, 0.16, 0.16, 0.13, 0.11, 0.11, 0.09, 0.07])
NOISE_SIGMA = 0.12  # log-normal price noise: negotiation, view, condition the data does not show

COLUMNS: tuple[str, ...] = (*FIELD_NAMES, LABEL.name)

# Defects for the malformed fraction: (column, bad value or a marker for a computed one).
_DEFECTS: tuple[tuple[str, object], ...] = (
    ("city", "Atlantis"),
    ("city", None),
    ("area_sqft", "-neg"),
    ("area_sqft", "12OO sqft"),
    ("bedrooms", 0),
    ("bedrooms", "three"),
    ("bathrooms", None),
    ("age_years", -3),
    ("floor", "ground"),
    ("furnishing", "luxurious"),
    ("distance_to_metro_km", 250.0),
    ("locality_tier", 7),
    ("price_inr", -1.0),
    ("price_inr", None),
)


def generate(rows: int, seed: int = 42, malformed_fraction: float = 0.0) -> pd.DataFrame:
    """Return ``rows`` listings; the same (rows, seed, malformed_fraction) gives the same frame."""
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    if not 0.0 <= malformed_fraction <= 1.0:
        raise ValueError(f"malformed_fraction must be between 0 and 1, got {malformed_fraction}")
    rng = np.random.default_rng(seed)
    n = rows
    city_idx = rng.choice(len(CITIES), size=n, p=CITY_WEIGHTS / CITY_WEIGHTS.sum())
    city = np.array(CITIES, dtype=object)[city_idx]
    tier = rng.choice([1, 2, 3], size=n, p=[0.2, 0.5, 0.3])
    bedrooms = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.18, 0.4, 0.3, 0.09, 0.03])
    # Carpet area grows with bedrooms; prime localities have slightly larger homes.
    area = bedrooms * rng.normal(430, 60, n) + 120 + (tier == 1) * rng.normal(150, 40, n)
    area = np.clip(np.round(area * rng.lognormal(0, 0.12, n)), 250, 12000)
    bathrooms = np.clip(bedrooms + rng.choice([-1, 0, 0, 1], size=n), 1, 6)
    age = np.round(np.clip(rng.gamma(1.6, 6.0, n), 0, 60), 1)
    city_height = np.where(np.isin(city, ["Mumbai", "Bengaluru", "Pune"]), 14.0, 7.0)
    floor = np.clip(np.round(rng.exponential(city_height, n)), 0, 60).astype(int)
    parking = rng.choice([0, 1, 2], size=n, p=[0.3, 0.55, 0.15])
    furnishing = np.array(FURNISHING, dtype=object)[rng.choice(3, size=n, p=[0.45, 0.35, 0.2])]
    # Prime localities sit closer to metro lines.
    metro = np.round(rng.gamma(2.0, np.array([0.6, 1.4, 3.0])[tier - 1], n), 2)
    metro = np.clip(metro, 0.05, 45.0)

    base = np.array([CITY_PRICE_PER_SQFT[c] for c in city])
    factor = (
        np.array([TIER_FACTOR[int(t)] for t in tier])
        * np.exp(-AGE_DECAY_PER_YEAR * age)
        * (1 + 0.004 * np.minimum(floor, 30))
        * np.array([FURNISHING_FACTOR[f] for f in furnishing])
        * (1 + 0.04 * parking)
        * (1 + 0.18 * np.exp(-metro / 1.5))
        * (1 + 0.03 * (bathrooms - bedrooms))
    )
    price = base * area * factor * rng.lognormal(0, NOISE_SIGMA, n)
    price = np.round(price, -3)

    frame = pd.DataFrame(
        {
            "city": city,
            "locality_tier": tier.astype(int),
            "area_sqft": area.astype(float),
            "bedrooms": bedrooms.astype(int),
            "bathrooms": bathrooms.astype(int),
            "age_years": age.astype(float),
            "floor": floor,
            "parking": parking.astype(int),
            "furnishing": furnishing,
            "distance_to_metro_km": metro.astype(float),
            "price_inr": price.astype(float),
        },
        columns=list(COLUMNS),
    )
    if malformed_fraction > 0:
        frame = _corrupt(frame, malformed_fraction, rng)
    return frame


def _corrupt(frame: pd.DataFrame, fraction: float, rng: np.random.Generator) -> pd.DataFrame:
    n_bad = round(len(frame) * fraction)
    if n_bad == 0:
        return frame
    out = frame.astype(object)
    bad_rows = rng.choice(len(frame), size=n_bad, replace=False)
    kinds = rng.integers(0, len(_DEFECTS), size=n_bad)
    col_pos = {c: i for i, c in enumerate(out.columns)}
    for row, kind in zip(bad_rows, kinds, strict=True):
        col, value = _DEFECTS[int(kind)]
        if value == "-neg":
            value = -float(frame.iat[int(row), col_pos[col]])
        out.iat[int(row), col_pos[col]] = value
    return out


def write_listings(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write CSV or Parquet according to the file extension."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ValueError(f"out must end in .csv or .parquet, got {str(path)!r}")
    p.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(p, index=False)
    else:
        # Mixed-type columns (malformed rows) are stored as text, as a raw landing zone would.
        typed = frame.copy()
        for col in typed.columns:
            if typed[col].dtype == object:
                typed[col] = typed[col].map(lambda v: None if v is None else str(v)).astype("string")
        typed.to_parquet(p, index=False)
    return p
