"""Market constants shared by the data generator and the rule-based fallback (stdlib only).

Rates are INR per sq ft of carpet area in a mid-market locality, the order of magnitude of
2024-25 listings; factors are multiplicative.
"""

from __future__ import annotations

CITY_PRICE_PER_SQFT: dict[str, float] = {
    "Mumbai": 21000.0,
    "Delhi": 13000.0,
    "Bengaluru": 9500.0,
    "Hyderabad": 7800.0,
    "Chennai": 7600.0,
    "Pune": 8200.0,
    "Kolkata": 6200.0,
    "Ahmedabad": 5400.0,
}
TIER_FACTOR: dict[int, float] = {1: 1.55, 2: 1.0, 3: 0.68}
FURNISHING_FACTOR: dict[str, float] = {"unfurnished": 1.0, "semi-furnished": 1.05, "furnished": 1.12}
AGE_DECAY_PER_YEAR = 0.012  # value lost per year of building age (exponential)
