"""Helpers of the real-host tests (a module with a unique name: tests/*/conftest.py modules collide on import)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LISTING = {
    "city": "Mumbai",
    "locality_tier": 1,
    "area_sqft": 780.0,
    "bedrooms": 2,
    "bathrooms": 1,
    "age_years": 12.0,
    "floor": 9,
    "parking": 0,
    "furnishing": "furnished",
    "distance_to_metro_km": 0.6,
}


def metadata_of(model_dir: Path) -> dict[str, Any]:
    return dict(json.loads((model_dir / "metadata.json").read_text()))


def expected_prices(model_dir: Path, listings: list[dict[str, Any]]) -> list[float]:
    """What the trained model answers, computed in this process by the predictor the image runs."""
    from app.serve.predictor import Predictor

    return [float(p) for p in Predictor(model_dir).predict(listings)]
