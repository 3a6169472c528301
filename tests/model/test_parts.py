"""The cloud-neutral parts of `tricloud model`: the serving record, the approval decision (known answers worked out
by hand), the smoke checks, test traffic, and the Automation API deployer against a fake stack."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from components.errors import InvalidArgs
from components.model_endpoint import serving
from components.model_endpoint.serving import ServingModel
from tricloud.model.deploy import ENDPOINT_TYPES, AutomationDeployer, endpoint_urns
from tricloud.model.evaluate import Holdout, decide
from tricloud.model.settings import DeliveryArgs
from tricloud.model.smoke import check_answer, join_url
from tricloud.model.traffic import Traffic

IMAGE = "123456789012.dkr.ecr.ap-south-1.amazonaws.com/repo@sha256:" + "a" * 64
SHA = "b" * 64


def record(**kw: str) -> ServingModel:
    base = {"version": "arn:v1", "model_data_uri": "s3://b/models/sha256/x/model.tar.gz", "model_sha256": SHA}
    return ServingModel(**{**base, "image": IMAGE, "label": "v1", **kw})


# --- the serving record --------------------------------------------------------------------------------------------


def test_serving_record_round_trips_and_is_found_among_parameters() -> None:
    rec = record()
    assert ServingModel.from_json(rec.to_json()) == rec
    names = ["/tricloud-aws/dev/model/previous", "/tricloud-aws/dev/model/serving"]
    values = [record(label="old").to_json(), rec.to_json()]
    assert serving.from_parameters(names, values, "tricloud-aws", "dev") == rec
    assert serving.from_parameters(names, values, "tricloud-aws", "dev", serving.PREVIOUS).label == "old"  # type: ignore[union-attr]
    assert serving.from_parameters([], [], "tricloud-aws", "dev") is None
    assert serving.from_parameters(names, values, "tricloud-aws", "prod") is None  # another stack's path


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("image", "123.dkr.ecr.ap-south-1.amazonaws.com/repo:latest"),
        ("model_sha256", "abc"),
        ("model_data_uri", "x"),
    ],
)
def test_serving_record_refuses_what_is_not_pinned(field: str, value: str) -> None:
    with pytest.raises(InvalidArgs) as err:
        record(**{field: value})
    assert err.value.field == field


def test_serving_record_garbage_names_the_parameter() -> None:
    with pytest.raises(InvalidArgs) as err:
        ServingModel.from_json("{not json", "/p/s/model/serving")
    assert err.value.field == "/p/s/model/serving"


# --- the approval decision: known answers --------------------------------------------------------------------------

HOLDOUT = Holdout("s3://b/holdout/", "c" * 64, 100, np.zeros((1, 1)), np.zeros(1))


def m(rmse: float, r2: float = 0.9, mape: float = 0.1) -> dict[str, float]:
    return {"rmse": rmse, "r2": r2, "mape": mape, "mae": rmse / 2}


def test_no_champion_the_floors_decide() -> None:
    s = DeliveryArgs(min_r2=0.8, max_mape=0.2)
    assert decide(m(100), None, s, holdout=HOLDOUT).approved
    assert not decide(m(100, r2=0.79), None, s, holdout=HOLDOUT).approved
    assert not decide(m(100, mape=0.21), None, s, holdout=HOLDOUT).approved
    assert not decide(m(100, r2=float("nan")), None, s, holdout=HOLDOUT).approved  # NaN never passes


def test_champion_challenger_on_rmse_with_the_allowed_increase() -> None:
    strict = DeliveryArgs(max_rmse_increase_percent=0.0)
    assert decide(m(100), m(100), strict, holdout=HOLDOUT).approved  # as good: not worse
    refused = decide(m(101), m(100), strict, holdout=HOLDOUT)
    assert not refused.approved and "+1.00%" in refused.summary()  # 101 / 100 - 1 = +1 %
    loose = DeliveryArgs(max_rmse_increase_percent=1.0)
    assert decide(m(101), m(100), loose, holdout=HOLDOUT).approved  # 101 <= 100 * 1.01
    assert not decide(m(101.5), m(100), loose, holdout=HOLDOUT).approved
    # Floors still apply to a challenger better than the champion.
    assert not decide(m(50, r2=0.5), m(100), loose, holdout=HOLDOUT).approved


def test_a_challenger_that_cannot_be_scored_is_refused_with_the_reason() -> None:
    d = decide(
        None, m(100), DeliveryArgs(), holdout=HOLDOUT, challenger_error="ModelLoadError: sha256 mismatch"
    )
    assert not d.approved and "sha256 mismatch" in d.summary()
    assert d.as_dict()["holdout"] == {"uri": "s3://b/holdout/", "sha256": "c" * 64, "rows": 100}


# --- smoke checks --------------------------------------------------------------------------------------------------


def test_join_url_never_doubles_the_slash() -> None:
    assert join_url("https://abc.execute-api.ap-south-1.amazonaws.com/", "predict") == (
        "https://abc.execute-api.ap-south-1.amazonaws.com/predict"
    )
    assert join_url("https://x/prod", "/predict") == "https://x/prod/predict"


@pytest.mark.parametrize(
    ("status", "body", "expect", "problem"),
    [
        (200, {"predictions": [5e6], "model_version": "v2", "fallback": False}, "v2", None),
        (
            200,
            {"predictions": [5e6], "model_version": "rules-v1", "fallback": True},
            None,
            '"fallback": true',
        ),
        (200, {"predictions": [5e6], "model_version": "v1", "fallback": False}, "v2", "expected 'v2'"),
        (
            200,
            {"predictions": [5e6], "model_version": "v2"},
            "v2",
            '"fallback": null',
        ),  # missing flag fails too
        (200, {"predictions": [float("nan")], "fallback": False}, None, "positive finite"),
        (200, {"predictions": [], "fallback": False}, None, "positive finite"),
        (503, {"message": "Service Unavailable"}, None, "HTTP 503"),
        (403, "Forbidden", None, "HTTP 403"),
    ],
)
def test_smoke_answer_checks(status: int, body: Any, expect: str | None, problem: str | None) -> None:
    got = check_answer(status, body, expect)
    assert (got is None) if problem is None else (got is not None and problem in got)


# --- traffic -------------------------------------------------------------------------------------------------------


def test_traffic_counts_errors_and_who_answered() -> None:
    calls: list[dict[str, Any]] = []
    done = threading.Event()

    def send(rows: list[dict[str, Any]]) -> str:
        calls.append(rows[0])
        if len(calls) >= 6:
            done.set()
        if len(calls) % 3 == 0:
            raise RuntimeError("ModelError 424")
        return "green" if len(calls) % 2 else "blue"

    t = Traffic(send, [{"n": 1}, {"n": 2}], rate=50).start()
    assert done.wait(10)
    stats = t.stop().numbers()
    assert stats["sent"] == len(calls) >= 6
    assert stats["errors"] == len(calls) // 3 and "424" in stats["last_error"]
    assert sum(stats["answered_by"].values()) == stats["sent"] - stats["errors"]
    assert [c["n"] for c in calls[:4]] == [1, 2, 1, 2]  # cycles through the rows


# --- the Automation API deployer against a fake stack --------------------------------------------------------------

STATE = [
    {
        "urn": "urn:pulumi:dev::tricloud-aws::pulumi:pulumi:Stack::tricloud-aws-dev",
        "type": "pulumi:pulumi:Stack",
    },
    {"urn": "urn:...$aws:sagemaker/model:Model::endpoint-model", "type": "aws:sagemaker/model:Model"},
    {
        "urn": "urn:...$aws:sagemaker/endpointConfiguration:EndpointConfiguration::endpoint-config",
        "type": "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    },
    {
        "urn": "urn:...$aws:sagemaker/endpoint:Endpoint::endpoint-endpoint",
        "type": "aws:sagemaker/endpoint:Endpoint",
    },
    {"urn": "urn:...$aws:lambda/function:Function::api-function", "type": "aws:lambda/function:Function"},
]


class FakeStack:
    def __init__(self, fail: str | None = None) -> None:
        self.fail, self.calls = fail, []  # type: ignore[var-annotated]

    def export_stack(self) -> Any:
        return SimpleNamespace(deployment={"resources": STATE})

    def up(self, **kw: Any) -> Any:
        self.calls.append(kw)
        kw["on_output"]("Updating (dev)")
        if self.fail:
            raise RuntimeError(self.fail)
        return SimpleNamespace(
            summary=SimpleNamespace(resource_changes={"replace": 2, "update": 1, "same": 80})
        )


def test_automation_deployer_targets_only_the_endpoint_resources() -> None:
    fake, lines, opened = FakeStack(), [], []

    def select(**kw: Any) -> FakeStack:
        opened.append(kw)
        return fake

    out = AutomationDeployer("aws", "dev", report=lines.append, select_stack=select).apply("roll out 3")
    assert out.ok and "'replace': 2" in out.summary
    assert opened[0]["stack_name"] == "dev" and opened[0]["work_dir"].endswith("stacks/aws")
    (call,) = fake.calls
    assert call["target"] == sorted(r["urn"] for r in STATE if r["type"] in ENDPOINT_TYPES)
    assert call["target_dependents"] is False and "roll out 3" in call["message"]
    assert "Updating (dev)" in lines


def test_automation_deployer_reports_a_failed_update() -> None:
    fake = FakeStack(fail="error: updating urn ...Endpoint: UpdateRollbackCompleted: alarm fired")
    out = AutomationDeployer("aws", "dev", select_stack=lambda **kw: fake).apply("roll out 3")
    assert not out.ok and "UpdateRollbackCompleted" in out.summary


def test_endpoint_urns_need_an_applied_stack() -> None:
    with pytest.raises(LookupError, match="pulumi up"):
        endpoint_urns([STATE[0]])
    assert json.dumps(endpoint_urns(STATE))  # plain strings
