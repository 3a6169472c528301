"""The shared request schema: validation rules and the JSON Schema / OpenAPI export."""

from __future__ import annotations

import copy

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from app.data import generate
from app.schema import (
    FIELD_NAMES,
    MAX_ROWS_PER_REQUEST,
    check_value,
    field,
    instances_from_json,
    openapi_schema,
    parse_csv_rows,
    request_json_schema,
    validate_batch,
    validate_record,
)


def test_valid_record_is_normalised(valid_listing: dict) -> None:
    clean, errors = validate_record({**valid_listing, "city": " Pune "})
    assert errors == []
    assert clean is not None and clean["city"] == "Pune" and isinstance(clean["bedrooms"], int)


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("city", "Atlantis", "not_allowed"),
        ("city", 3, "wrong_type"),
        ("area_sqft", "1000", "wrong_type"),
        ("area_sqft", -1.0, "out_of_range"),
        ("bedrooms", 2.5, "wrong_type"),
        ("bedrooms", True, "wrong_type"),
        ("floor", None, "missing"),
        ("distance_to_metro_km", float("inf"), "wrong_type"),
        ("furnishing", "luxurious", "not_allowed"),
    ],
)
def test_field_errors_name_field_echo_value(valid_listing: dict, name: str, value: object, code: str) -> None:
    clean, errors = validate_record({**valid_listing, name: value}, row=3)
    assert clean is None
    assert len(errors) == 1
    err = errors[0]
    assert (err["row"], err["field"], err["code"]) == (3, name, code)
    assert err["value"] == value or (value is None and err["value"] is None)
    assert err["error"]


def test_text_values_parse_only_plain_decimals() -> None:
    area = field("area_sqft")
    assert check_value(area, " 1200.5 ", from_text=True) == (1200.5, None)
    for text in ("1_200", "1200d", "0x4B0", "NaN", "inf", "12OO"):
        value, err = check_value(area, text, from_text=True)
        assert value is None and err is not None and err["code"] == "wrong_type", text


def test_batch_limits_and_shapes(valid_listing: dict) -> None:
    assert validate_batch([])[1][0]["code"] == "missing"
    assert validate_batch([valid_listing] * (MAX_ROWS_PER_REQUEST + 1))[1][0]["code"] == "out_of_range"
    assert instances_from_json(valid_listing) == ([valid_listing], None)
    assert instances_from_json({"instances": [valid_listing]}) == ([valid_listing], None)
    assert instances_from_json("x")[1] is not None


def test_csv_rows_with_header_short_and_long_rows() -> None:
    rows = parse_csv_rows(
        ",".join(FIELD_NAMES) + "\nPune,2,900,2,2,1,3,1,furnished,1.0\nPune,2\n" + "a," * 11 + "a"
    )
    assert len(rows) == 3
    assert validate_record(rows[0], from_text=True)[1] == []
    assert {e["code"] for e in validate_record(rows[1], from_text=True)[1]} == {"missing"}
    assert any(e["code"] == "unknown_field" for e in validate_record(rows[2], from_text=True)[1])


def test_json_schema_agrees_with_the_validator(valid_listing: dict) -> None:
    schema = request_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for rec in generate(200, seed=1).to_dict("records")[:50]:
        rec.pop("price_inr")
        jsonschema.validate(rec, schema)
    for name, value in [("city", "Atlantis"), ("bedrooms", 0), ("area_sqft", "9")]:
        bad = {**valid_listing, name: value}
        assert validate_record(bad)[1]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_openapi_components_form_a_valid_document() -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "tricloud", "version": "1"},
        "paths": {
            "/predict": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/PredictResponse"}
                                }
                            },
                        }
                    },
                }
            }
        },
        "components": {"schemas": copy.deepcopy(openapi_schema())},
    }
    validate_openapi(doc)
