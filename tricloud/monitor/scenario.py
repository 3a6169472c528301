"""`tricloud monitor scenario aws`: the monitoring loop closed offline, on the real stack and the real app.

1. the platform, as `tricloud emulate aws` builds it (stack applied to moto, Spark features, training, inference
   server, API gateway running the Lambda handler with its JSON log format);
2. the serving model's reference profile published where the drift job looks;
3. in-distribution traffic through the API -> capture lines -> the function's log group -> subscription filter ->
   Firehose -> the artifacts zone (moto carries each hop);
4. the drift job (`python -m app.monitor`, as the EMR Serverless job would run it, with the Spark job role's
   credentials and the schedule's arguments) -> summary, report, metrics; the drift alarm is evaluated: OK;
5. shifted traffic (Pune: a third of the requests, 50% larger homes, mostly furnished);
6. the drift job again -> drift -> the alarm is evaluated: ALARM; the EventBridge rule matches its state change;
7. what the dispatched workflow runs: new sales (labelled, shifted market) through the Spark feature job, then
   `tricloud monitor retrain` (loop guard -> train -> register -> reference -> approve -> rollout);
8. the new version serves through the API; a second alarm right after is refused by the guard's cooldown.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.data.generator import generate, write_listings
from app.market import CITY_PRICE_PER_SQFT, FURNISHING_FACTOR
from app.schema import FIELD_NAMES, LABEL

SHIFT_CITY = "Pune"
SHIFT_CITY_SHARE = 0.35  # a campaign brings Pune buyers: their share of requests triples
SHIFT_AREA = 1.5  # larger homes
SHIFT_FURNISHED = 0.7  # a new furnishing mix
SHIFT_PRICE = 1.25  # and the market moved: sale prices there rose 25% beyond what size explains
ROWS_PER_REQUEST = 4


class ScenarioError(Exception):
    """A step did not do what it should; the message names the step and what was seen."""


def shifted(rows: int, seed: int, *, labelled_uplift: float = SHIFT_PRICE) -> pd.DataFrame:
    """Listings of the shifted market: generated ones with Pune over-represented, bigger and mostly furnished;
    prices follow the generator's multiplicative model for those changes, times the market uplift in Pune."""
    rng = np.random.default_rng(seed + 1000)
    frame = generate(rows, seed=seed, malformed_fraction=0.0).copy()
    to_pune = rng.random(rows) < SHIFT_CITY_SHARE
    old_city = frame["city"].copy()
    frame.loc[to_pune, "city"] = SHIFT_CITY
    rate = frame["city"].map(CITY_PRICE_PER_SQFT) / old_city.map(CITY_PRICE_PER_SQFT)
    pune = frame["city"] == SHIFT_CITY
    area_factor = np.where(pune, SHIFT_AREA, 1.0)
    new_area = np.clip(np.round(frame["area_sqft"] * area_factor), 150, 20000)
    furnish = frame["furnishing"].copy()
    furnish[pune & (rng.random(rows) < SHIFT_FURNISHED)] = "furnished"
    furnish_factor = furnish.map(FURNISHING_FACTOR) / frame["furnishing"].map(FURNISHING_FACTOR)
    price = frame[LABEL.name] * rate * (new_area / frame["area_sqft"]) * furnish_factor
    frame["area_sqft"], frame["furnishing"] = new_area, furnish
    frame[LABEL.name] = np.round(np.where(pune, price * labelled_uplift, price), -3)
    return frame


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame[list(FIELD_NAMES)].to_dict("records"):
        out.append({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
    return out


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_scenario(rows: int = 1000, seed: int = 11, say: Callable[[str], None] = print) -> dict[str, Any]:
    from tricloud.emulate.platform import Options, Platform, PlatformError
    from tricloud.engine import Emulator

    doc: dict[str, Any] = {"steps": []}
    started = time.perf_counter()

    def step(title: str, detail: str, **numbers: Any) -> None:
        secs = time.perf_counter() - started
        say(f"[{secs:6.1f}s] {title}: {detail}")
        doc["steps"].append({"step": title, "detail": detail, "seconds": round(secs, 2), **numbers})

    with tempfile.TemporaryDirectory(prefix="tricloud-monitor-") as tmp:
        state = Path(tmp) / "aws-dev.local.json"
        emulator = Emulator.start("ap-south-1")
        platform = Platform(emulator, Options(stack="dev", state_path=state, seed=seed))
        try:
            with _env(TRICLOUD_LOCAL_STATE=str(state)):
                try:
                    platform.run_all()
                except PlatformError as exc:
                    raise ScenarioError(f"platform: {exc}") from None
                applied = platform.apply_result.summary() if platform.apply_result else "?"
                step("platform", f"{applied}; API {platform.gateway_url}; model "
                     f"{platform.details['train']['metrics']['version']}")  # fmt: skip
                return _loop(platform, Path(tmp), rows, seed, step, doc)
        finally:
            platform.close()
            emulator.stop()


def _loop(
    platform: Any, tmp: Path, rows: int, seed: int, step: Callable[..., None], doc: dict[str, Any]
) -> dict[str, Any]:
    from app.monitor.storage import S3Store, use
    from tricloud.monitor import alarms

    outputs = platform.outputs
    s3 = platform.s3()
    use("s3", S3Store(s3))
    model_dir = platform.workdir / "serving" / "model"
    first_label = json.loads((model_dir / "metadata.json").read_text())["version"]
    ref_uri = _publish_reference(s3, outputs, first_label, (model_dir / "reference.json").read_bytes())
    step("reference", f"profile of {first_label} -> {ref_uri}")

    # --- in-distribution traffic, drift job, alarm ---------------------------------------------------------------
    t0 = dt.datetime.now(dt.UTC)
    sent = _traffic(platform, _records(generate(rows, seed=seed + 1, malformed_fraction=0.0)))
    step("traffic (in distribution)", f"{sent['requests']} requests, {sent['rows']} rows, "
         f"{sent['fallbacks']} fallbacks", **sent)  # fmt: skip
    captured = _wait_capture(platform, sent["rows"], t0)
    step("capture", f"{captured} of {sent['rows']} rows in {outputs['prediction_capture_uri']} (log group -> "
         f"subscription filter -> Firehose -> S3){_log_notes(platform) if captured < sent['rows'] else ''}",
         rows=captured)  # fmt: skip
    first = _job(platform, t0, "in-distribution")
    step("drift job (in distribution)", f"{first['status']}, drifted {first['drifted_features'] or 'none'}",
         status=first["status"])  # fmt: skip
    cw = platform.emulator.client("cloudwatch")
    state = alarms.evaluate(cw, outputs["drift_alarm"])
    step("drift alarm", f"{state['state']} ({state['reason']})", state=state["state"])
    if first["alarm"] or state["state"] != "OK":
        raise ScenarioError(
            f"in-distribution traffic raised the alarm: {first['drifted_features']} / {state}"
        )

    # --- shifted traffic ---------------------------------------------------------------------------------------
    t1 = dt.datetime.now(dt.UTC)
    sent = _traffic(platform, _records(shifted(rows, seed + 2)))
    step("traffic (shifted)", f"{sent['requests']} requests, {sent['rows']} rows: Pune {SHIFT_CITY_SHARE:.0%} of "
         f"requests, homes x{SHIFT_AREA}, {SHIFT_FURNISHED:.0%} furnished", **sent)  # fmt: skip
    captured = _wait_capture(platform, sent["rows"], t1)
    step(
        "capture", f"{captured} of {sent['rows']} rows in {outputs['prediction_capture_uri']}", rows=captured
    )
    second = _job(platform, t1, "shifted")
    step("drift job (shifted)", f"{second['status']}, drifted {', '.join(second['drifted_features'])}; "
         f"report {second['outputs']['report']}", status=second["status"], drifted=second["drifted_features"])  # fmt: skip
    state = alarms.evaluate(cw, outputs["drift_alarm"])
    step("drift alarm", f"{state['state']} ({state['reason']})", state=state["state"])
    if not second["alarm"] or state["state"] != "ALARM":
        raise ScenarioError(f"shifted traffic did not raise the alarm: {second['status']} / {state}")
    rule = outputs["retrain_trigger"]
    if not alarms.rule_matches(platform.emulator.client("events"), rule, outputs["drift_alarm"]):
        raise ScenarioError(f"the EventBridge rule {rule} does not match the drift alarm's state change")
    target = platform.emulator.client("events").list_targets_by_rule(Rule=rule)["Targets"][0]
    step("retrain dispatch", f"rule {rule} matches; target {target['Arn'].rsplit(':', 1)[-1]} would POST the "
         "workflow dispatch (no network offline: running what the workflow runs)")  # fmt: skip

    # --- retraining through the delivery pipeline --------------------------------------------------------------
    retrained = _retrain(platform, tmp, rows, seed, step)
    new_label = retrained["label"]
    _restart_server(platform)
    status, body = _predict(platform, _records(shifted(3, seed + 9)))
    served = body.get("model_version") if isinstance(body, dict) else None
    step("serving", f"POST /predict answers with model {served} (was {first_label})", model_version=served)
    if status != 200 or served != new_label or served == first_label:
        raise ScenarioError(f"the new version is not serving: {status} {body}")

    # --- the loop guard ----------------------------------------------------------------------------------------
    from tricloud.model.base import GateRefused

    try:
        _retrain_call(platform, tmp, "drift alarm again")
        raise ScenarioError("a second retrain right after the first was not refused by the guard")
    except GateRefused as exc:
        step("loop guard", str(exc))
    doc.update(first_model=first_label, new_model=new_label, ok=True)
    return doc


def _publish_reference(s3: Any, outputs: dict[str, Any], label: str, data: bytes) -> str:
    from components.observability.spec import REFERENCES_PREFIX
    from tricloud.emulate.platform import split_s3

    bucket, prefix = split_s3(outputs["artifacts_uri"])
    key = f"{prefix}{REFERENCES_PREFIX}{label}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


def _predict(platform: Any, records: list[dict[str, Any]]) -> tuple[int, Any]:
    from tricloud.emulate.platform import signed_request

    return signed_request(platform.gateway_url + "/predict", {"instances": records}, platform.emulator.region)


def _traffic(platform: Any, records: list[dict[str, Any]]) -> dict[str, int]:
    requests = fallbacks = 0
    for i in range(0, len(records), ROWS_PER_REQUEST):
        status, body = _predict(platform, records[i : i + ROWS_PER_REQUEST])
        if status != 200:
            raise ScenarioError(f"traffic: POST /predict answered {status}: {body}")
        requests += 1
        fallbacks += bool(body.get("fallback"))
    return {"requests": requests, "rows": len(records), "fallbacks": fallbacks}


MAX_LOST_SHARE = 0.01  # capture is best effort (a failed log delivery never fails a request): 1% may be lost


def _wait_capture(platform: Any, rows: int, since: dt.datetime, timeout_s: float = 60) -> int:
    """Capture rows with ts >= since in the lake (what the drift job will read): all of them, or at least 99% once
    the count stops growing, with the emulator's reason for the rest."""
    from app.monitor.job import read_window

    uri = platform.outputs["prediction_capture_uri"]
    deadline = time.monotonic() + timeout_s
    count, last_change, previous = 0, time.monotonic(), -1
    while time.monotonic() < deadline:
        count = len(read_window(uri, since, dt.datetime.now(dt.UTC)))
        if count >= rows:
            return count
        if count != previous:
            previous, last_change = count, time.monotonic()
        elif count >= rows * (1 - MAX_LOST_SHARE) and time.monotonic() - last_change > 10:
            return count
        time.sleep(0.5)
    raise ScenarioError(
        f"capture: {count} of {rows} rows reached {uri} in {timeout_s:.0f} s{_log_notes(platform)}"
    )


def _log_notes(platform: Any) -> str:
    """What the emulated Lambda said about shipping its logs (`[tricloud] ...` lines of the function's log file)."""
    notes = []
    for path in getattr(platform.gateway, "log_files", {}).values():
        with contextlib.suppress(OSError):
            notes += [line for line in Path(path).read_text().splitlines() if line.startswith("[tricloud]")]
    return f"; the function's log: {' | '.join(notes[-3:])}" if notes else ""


def _job(platform: Any, since: dt.datetime, label: str) -> dict[str, Any]:
    """The drift job as the schedule starts it: the schedule's own arguments, the job role's credentials."""
    outputs = platform.outputs
    sched = platform.emulator.client("scheduler").get_schedule(Name=outputs["drift_schedule"])
    driver = json.loads(sched["Target"]["Input"])["JobDriver"]["SparkSubmit"]
    args = list(driver["EntryPointArguments"])
    # This run's window: the traffic just sent, not the whole schedule period (both windows fall in one hour).
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    hours = (end - since).total_seconds() / 3600 + 1 / 3600
    i = args.index("--window-hours")
    args[i + 1] = f"{hours:.6f}"
    env = {**os.environ, **platform.workload_env(outputs["spark_job_role"], platform.spark_service)}
    proc = subprocess.run(
        [sys.executable, "-m", "app.monitor", *args, "--end", end.strftime("%Y-%m-%dT%H:%M:%S.%fZ")],
        cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if proc.returncode != 0:
        raise ScenarioError(f"drift job ({label}) exit {proc.returncode}: {proc.stderr[-1500:]}")
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    from app.monitor.storage import store_for

    return json.loads(store_for(line["outputs"]["summary"]).read(line["outputs"]["summary"]))


def _retrain_context(platform: Any, tmp: Path, reason: str) -> tuple[Any, Any]:
    from tricloud.config import parse
    from tricloud.inventory import stack_config
    from tricloud.model.aws import AwsDelivery
    from tricloud.model.base import Context

    lines: list[str] = []
    ctx = Context(
        cloud="aws", stack="dev", project="tricloud-aws", config=parse("aws", stack_config("aws", "dev")),
        outputs={k: str(v) for k, v in platform.outputs.items()}, endpoint=platform.emulator.moto_url,
        report=lines.append, git_commit="0" * 40, workdir=tmp / "delivery",
    )  # fmt: skip
    return ctx, AwsDelivery(ctx)


def _retrain_call(platform: Any, tmp: Path, reason: str) -> dict[str, Any]:
    from tricloud.monitor.retrain import retrain

    ctx, d = _retrain_context(platform, tmp, reason)
    with _env(AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=platform.shim.url):
        return retrain(ctx, d, reason=reason)


def _retrain(platform: Any, tmp: Path, rows: int, seed: int, step: Callable[..., None]) -> dict[str, Any]:
    from tricloud.emulate.platform import split_s3

    # The market's new sales (sale prices known): a mix of the old and the shifted market, through the pipeline.
    sales = pd.concat([generate(rows * 2, seed=seed + 3), shifted(rows * 3, seed + 4)], ignore_index=True)
    path = write_listings(sales, platform.workdir / "raw" / "sales-2.csv")
    bucket, prefix = split_s3(platform.outputs["raw_uri"])
    key = f"{prefix}listings/sales-{int(time.time())}.csv"
    platform.s3().upload_file(str(path), bucket, key)
    platform.details["data"]["uri"] = f"s3://{bucket}/{key}"
    counts = platform.run_spark()
    step("features (new sales)", f"{counts.get('valid_rows')} rows through the Spark feature job")
    holdout = shifted(max(400, rows // 2), seed + 5)
    cbucket, cprefix = split_s3(platform.outputs["curated_uri"])
    platform.s3().put_object(Bucket=cbucket, Key=f"{cprefix}holdout/listings.csv",
                             Body=holdout.to_csv(index=False).encode())  # fmt: skip
    result = _retrain_call(platform, tmp, "drift alarm")
    for name in ("train", "register", "reference", "approve", "rollout"):
        step(f"retrain: {name}", json.dumps(result.get(name), default=str)[:200])
    return result


def _restart_server(platform: Any) -> None:
    """The endpoint now names the new artifact (the rollout re-applied it): serve that one."""
    sm = platform.emulator.client("sagemaker")
    endpoint = sm.describe_endpoint(EndpointName=platform.outputs["endpoint_name"])
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = config["ProductionVariants"][0]["ModelName"]
    uri = sm.describe_model(ModelName=model)["PrimaryContainer"]["ModelDataUrl"]
    from tricloud.emulate.platform import split_s3

    bucket, key = split_s3(uri)
    body = platform.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    target = platform.workdir / "serving" / f"model-{int(time.time())}"
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        tar.extractall(target, filter="data")
    platform.stop_server()
    platform.start_server(target)


def _finite(x: float) -> bool:
    return math.isfinite(x)
