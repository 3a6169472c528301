"""Every request field through below-minimum, above-maximum, wrong type and null: in the schema and through the
three cloud handlers. The table is written out by hand from the documented ranges (app/README.md), not derived from
app.schema, so a field dropped from the schema or a range changed there is caught."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from app.schema import REQUEST_FIELDS, validate_record

VALID = {
    "city": "Pune",
    "locality_tier": 2,
    "area_sqft": 1050.0,
    "bedrooms": 2,
    "bathrooms": 2,
    "age_years": 4.5,
    "floor": 6,
    "parking": 1,
    "furnishing": "semi-furnished",
    "distance_to_metro_km": 1.8,
}
# field -> (below the minimum, above the maximum, a wrong type); None where the field is an enumeration
NUMERIC = {
    "locality_tier": (0, 4, "2"),
    "area_sqft": (149.9, 20000.5, "1050"),
    "bedrooms": (0, 11, 2.5),
    "bathrooms": (0, 11, True),
    "age_years": (-0.5, 100.5, "old"),
    "floor": (-1, 121, 3.5),
    "parking": (-1, 5, "1"),
    "distance_to_metro_km": (-0.1, 50.1, [1]),
}
ENUMS = {"city": ("Atlantis", 3), "furnishing": ("luxurious", 1)}
CASES = (
    [(f, "below", v[0], "out_of_range") for f, v in NUMERIC.items()]
    + [(f, "above", v[1], "out_of_range") for f, v in NUMERIC.items()]
    + [(f, "type", v[2], "wrong_type") for f, v in NUMERIC.items()]
    + [(f, "null", None, "missing") for f in [*NUMERIC, *ENUMS]]
    + [(f, "not allowed", v[0], "not_allowed") for f, v in ENUMS.items()]
    + [(f, "type", v[1], "wrong_type") for f, v in ENUMS.items()]
)


def test_the_table_covers_every_documented_field() -> None:
    assert set(NUMERIC) | set(ENUMS) == set(VALID)
    # A field added to the schema without a row here fails (an optional one too: validate_record would pass it).
    assert sorted(f.name for f in REQUEST_FIELDS) == sorted(VALID)
    # ...and so does a field whose kind changed: a range needs a NUMERIC row, a list of allowed values an ENUMS one.
    assert {f.name for f in REQUEST_FIELDS if f.allowed is None} == set(NUMERIC)
    assert {f.name for f in REQUEST_FIELDS if f.allowed is not None} == set(ENUMS)
    assert validate_record(VALID) == (VALID | {"area_sqft": 1050.0}, [])


@pytest.mark.parametrize(("name", "case", "value", "code"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_schema_refuses(name: str, case: str, value: object, code: str) -> None:
    clean, errors = validate_record({**VALID, name: value})
    assert clean is None
    assert [(e["field"], e["code"]) for e in errors] == [(name, code)]


@pytest.mark.parametrize(("name", "case", "value", "code"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_three_handlers_answer_400_naming_the_field(
    monkeypatch, name: str, case: str, value: object, code: str
) -> None:
    import azure.functions as func
    from flask import Request as FlaskRequest
    from werkzeug.test import EnvironBuilder

    from app.frontend import aws_lambda, azure_function, gcp_function

    monkeypatch.setenv("ENDPOINT_NAME", "house-price")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.setenv("AZUREML_ENDPOINT_URL", "http://127.0.0.1:9/score")
    monkeypatch.setenv("AZUREML_ENDPOINT_KEY", "k")
    monkeypatch.setenv("VERTEX_PREDICT_URL", "http://127.0.0.1:9/predict")
    body = json.dumps({"instances": [{**VALID, name: value}]})
    event = {
        "version": "2.0",
        "rawPath": "/predict",
        "headers": {"content-type": "application/json"},
        "requestContext": {"requestId": "r", "http": {"method": "POST", "path": "/predict"}},
        "body": body,
        "isBase64Encoded": False,
    }
    out = aws_lambda.handler(event, None)
    answers = {"aws": (out["statusCode"], json.loads(out["body"]))}
    req = func.HttpRequest(
        "POST", "/api/predict", body=body.encode(), headers={"content-type": "application/json"}
    )
    resp = azure_function.predict(req, SimpleNamespace(invocation_id="inv-1"))
    answers["azure"] = (resp.status_code, json.loads(resp.get_body()))
    env = EnvironBuilder(
        method="POST", path="/predict", data=body, content_type="application/json"
    ).get_environ()
    text, status, _ = gcp_function.predict(FlaskRequest(env))
    answers["gcp"] = (status, json.loads(text))
    for cloud, (status, payload) in answers.items():
        assert status == 400, (cloud, status, payload)
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [(name, code)], (cloud, payload)
