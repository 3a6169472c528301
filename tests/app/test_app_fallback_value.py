"""The rule-based fallback (rules-v1) against values worked out by hand, through the Lambda handler with its
endpoint down: the formula is price = rate x area x tier x exp(-0.012 x age) x furnishing, rounded to 1,000 INR."""

from __future__ import annotations

import json

import pytest

from app.frontend import aws_lambda

# Pune: 8,200 INR/sq ft x 1,050 x 1.0 (tier 2) x exp(-0.072) = 0.930531 x 1.05 (semi) = 8,412,465 -> 8,412,000
PUNE = (
    {
        "city": "Pune",
        "locality_tier": 2,
        "area_sqft": 1050,
        "bedrooms": 2,
        "bathrooms": 2,
        "age_years": 6,
        "floor": 4,
        "parking": 1,
        "furnishing": "semi-furnished",
        "distance_to_metro_km": 1.8,
    },
    8_412_000.0,
)
# Mumbai: 21,000 x 700 x 1.55 (tier 1) x exp(-0.24) = 0.786628 x 1.12 (furnished) = 20,074,114 -> 20,074,000
MUMBAI = (
    {
        "city": "Mumbai",
        "locality_tier": 1,
        "area_sqft": 700,
        "bedrooms": 1,
        "bathrooms": 1,
        "age_years": 20,
        "floor": 12,
        "parking": 0,
        "furnishing": "furnished",
        "distance_to_metro_km": 0.5,
    },
    20_074_000.0,
)


@pytest.mark.parametrize(("listing", "price"), [PUNE, MUMBAI], ids=["pune", "mumbai"])
def test_fallback_equals_the_hand_computed_price(monkeypatch, listing: dict, price: float) -> None:
    monkeypatch.setenv("ENDPOINT_NAME", "house-price")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv(
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:9"
    )  # nothing listens: endpoint down
    monkeypatch.setenv("ENDPOINT_TIMEOUT_MS", "200")
    monkeypatch.setenv("ENDPOINT_MAX_ATTEMPTS", "1")
    event = {
        "version": "2.0",
        "rawPath": "/predict",
        "headers": {"content-type": "application/json"},
        "requestContext": {"requestId": "r", "http": {"method": "POST", "path": "/predict"}},
        "body": json.dumps({"instances": [listing]}),
        "isBase64Encoded": False,
    }
    out = aws_lambda.handler(event, None)
    body = json.loads(out["body"])
    assert out["statusCode"] == 200 and body["fallback"] is True and body["model_version"] == "rules-v1"
    assert body["predictions"] == [price]
