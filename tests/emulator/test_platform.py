"""The whole AWS stack offline: the same program, the same app code, real local compute."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tricloud.emulate.platform import SAMPLE, signed_request
from tricloud.engine import Engine
from tricloud.engine.emulator import ACCESS_KEY_ID, SECRET_ACCESS_KEY

pytestmark = pytest.mark.emulator


def _direct(p, rows):
    req = urllib.request.Request(
        p.server_url + "/invocations",
        data=json.dumps({"instances": rows}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_predict_through_gateway_equals_model(platform) -> None:
    rows = [SAMPLE, {**SAMPLE, "city": "Mumbai", "area_sqft": 700, "locality_tier": 1}]
    status, body = signed_request(
        platform.gateway_url + "/predict", {"instances": rows}, platform.emulator.region
    )
    assert status == 200, body
    direct = _direct(platform, rows)
    assert body["fallback"] is False
    assert body["predictions"] == direct["predictions"]
    assert body["model_version"] == direct["model_version"]
    assert body["predictions"][1] != body["predictions"][0]


def test_bad_request_is_4xx_naming_the_field(platform) -> None:
    bad = {k: v for k, v in SAMPLE.items() if k != "area_sqft"}
    status, body = signed_request(
        platform.gateway_url + "/predict", {"instances": [bad]}, platform.emulator.region
    )
    assert 400 <= status < 500
    assert any(e["field"] == "area_sqft" for e in body["errors"])


def test_iam_route_refuses_unsigned_and_forged_requests(platform) -> None:
    url = platform.gateway_url + "/predict"
    status, body = signed_request(url, {"instances": [SAMPLE]}, platform.emulator.region, sign=False)
    assert (status, body) == (403, {"message": "Forbidden"})
    # A valid signature for another body: the gateway recomputes it over what it received.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signed = AWSRequest(
        method="POST", url=url, data=b'{"instances": []}', headers={"content-type": "application/json"}
    )
    SigV4Auth(
        Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "execute-api", platform.emulator.region
    ).add_auth(signed)
    forged = urllib.request.Request(
        url,
        data=json.dumps({"instances": [SAMPLE]}).encode(),
        headers=dict(signed.headers.items()),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(forged, timeout=10)
    assert err.value.code == 403
    assert "signature" in json.loads(err.value.read())["message"]


def test_health_route_is_open(platform) -> None:
    status, body = signed_request(
        platform.gateway_url + "/health", None, platform.emulator.region, method="GET", sign=False
    )
    assert status == 200, body


def test_unknown_route_is_404(platform) -> None:
    status, body = signed_request(platform.gateway_url + "/nope", {}, platform.emulator.region)
    assert (status, body) == (404, {"message": "Not Found"})


def test_curl_aws_sigv4_example_works(platform) -> None:
    from tricloud.emulate.cli import curl_example

    assert shutil.which("curl"), "curl is needed for the README's example; install it (apt-get install curl)"
    proc = subprocess.run(
        curl_example(platform.gateway_url, platform.emulator.region),
        shell=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    body = json.loads(proc.stdout)
    assert body["fallback"] is False and body["predictions"][0] > 0, proc.stdout


def test_runtime_shim_unknown_endpoint_is_validation_error(platform) -> None:
    client = boto3.client(
        "sagemaker-runtime",
        endpoint_url=platform.shim.url,
        region_name=platform.emulator.region,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as err:
        client.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"{}", ContentType="application/json")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "no-such-endpoint" in err.value.response["Error"]["Message"]
    ok = client.invoke_endpoint(
        EndpointName=platform.outputs["endpoint_name"],
        Body=json.dumps({"instances": [SAMPLE]}).encode(),
        ContentType="application/json",
    )
    assert json.loads(ok["Body"].read())["predictions"][0] > 0


def test_reapply_creates_nothing(platform) -> None:
    before = platform.apply_result
    res = Engine(platform.emulator, state_path=platform.engine.state_path).apply()
    total = before.count("create") + before.count("unchanged")
    assert res.summary() == f"0 to create, {total} unchanged"
    assert res.outputs["endpoint_name"] == before.outputs["endpoint_name"]


def test_changed_input_updates_in_place(platform) -> None:
    from tricloud.inventory import stack_config

    config = stack_config("aws", "dev")
    changed = {**config, "tricloud:api": {**config["tricloud:api"], "endpoint_timeout_ms": 1500}}
    lam = platform.emulator.client("lambda")
    fn = platform.outputs["function_name"]
    try:
        res = Engine(platform.emulator, state_path=platform.engine.state_path, config=changed).apply()
        assert res.count("create") == 0 and res.count("replace") == 0
        assert res.count("update") >= 1
        env = lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]
        assert env["ENDPOINT_TIMEOUT_MS"] == "1500"
    finally:
        back = Engine(platform.emulator, state_path=platform.engine.state_path).apply()
        assert back.count("update") >= 1
    assert (
        lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]["ENDPOINT_TIMEOUT_MS"]
        == "2000"
    )


def test_server_down_gives_flagged_fallback(platform) -> None:
    platform.stop_server()
    try:
        status, body = signed_request(
            platform.gateway_url + "/predict", {"instances": [SAMPLE]}, platform.emulator.region
        )
        assert status == 200, body
        assert body["fallback"] is True
        assert body["predictions"][0] > 0
    finally:
        platform.start_server()
    status, body = signed_request(
        platform.gateway_url + "/predict", {"instances": [SAMPLE]}, platform.emulator.region
    )
    assert body["fallback"] is False


def _runtime_client(platform, key: str, secret: str, token: str | None = None):
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=platform.shim.url,
        region_name=platform.emulator.region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}),
    )


def test_runtime_shim_refuses_unsigned_and_wrongly_signed_calls(platform) -> None:
    body = json.dumps({"instances": [SAMPLE]}).encode()
    name = platform.outputs["endpoint_name"]
    with pytest.raises(ClientError) as err:
        _runtime_client(platform, ACCESS_KEY_ID, "not-the-secret").invoke_endpoint(
            EndpointName=name, Body=body, ContentType="application/json"
        )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as err:
        _runtime_client(platform, "AKIAUNKNOWNKEY000000", "x").invoke_endpoint(
            EndpointName=name, Body=body, ContentType="application/json"
        )
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    unsigned = urllib.request.Request(
        f"{platform.shim.url}/endpoints/{name}/invocations",
        data=body,
        headers={"content-type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as http_err:
        urllib.request.urlopen(unsigned, timeout=10)
    assert http_err.value.code == 403


def test_lambda_runs_with_its_roles_credentials_not_the_root_keys(platform) -> None:
    role = next(fn.role for fn in (r.function for r in platform.gateway.routes))
    creds = platform.credentials_for(role, "lambda.amazonaws.com")
    assert creds["AWS_ACCESS_KEY_ID"] != ACCESS_KEY_ID and creds["AWS_SESSION_TOKEN"]
    ok = _runtime_client(
        platform, creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"], creds["AWS_SESSION_TOKEN"]
    ).invoke_endpoint(
        EndpointName=platform.outputs["endpoint_name"],
        Body=json.dumps({"instances": [SAMPLE]}).encode(),
        ContentType="application/json",
    )
    assert json.loads(ok["Body"].read())["predictions"][0] > 0
    with pytest.raises(ClientError):  # the same key without its session token is refused
        _runtime_client(platform, creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"]).invoke_endpoint(
            EndpointName=platform.outputs["endpoint_name"], Body=b"{}", ContentType="application/json"
        )


def test_audit_lines_reach_the_log_group_and_the_log_file(platform) -> None:
    status, body = signed_request(
        platform.gateway_url + "/predict", {"instances": [SAMPLE]}, platform.emulator.region
    )
    assert status == 200
    rid = body["request_id"]
    fn = platform.outputs["function_name"]
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline and rid not in text:
        text = platform.gateway.log_files[fn].read_text()
        time.sleep(0.2)
    # The stack declares Lambda's JSON log format: each line is a JSON object whose message is the audit line.
    audit = [ln for ln in text.splitlines() if rid in ln and _message(ln).startswith('{"event":"prediction"')]
    assert audit, text[-2000:]
    logs = platform.emulator.client("logs")
    group = next(r.function.log_group for r in platform.gateway.routes)

    def shipped() -> list[str]:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        return [
            e["message"]
            for s in streams
            for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
        ]

    # Shipping to the log group is batched after the file write (CloudWatch Logs delivery is asynchronous too):
    # wait for it, bounded, instead of reading once (a clean-clone run under load read before the batch went out).
    deadline = time.monotonic() + 20
    events = shipped()
    while time.monotonic() < deadline and not any(rid in m for m in events):
        time.sleep(0.2)
        events = shipped()
    assert any(rid in m and _message(m).startswith('{"event":"prediction"') for m in events), events[-5:]


def _message(line: str) -> str:
    """The message of a line in Lambda's JSON log format ("" for START/END/REPORT and other plain lines)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return ""
    return str(doc.get("message", "")) if isinstance(doc, dict) else ""


def test_six_concurrent_requests_against_a_frozen_model_all_fall_back_within_the_timeout(platform) -> None:
    """SIGSTOP freezes the inference server: each request waits for its own endpoint timeout (2 s x 2 attempts) in
    its own execution environment, side by side (six at once, under the reserved concurrency of 10), and answers the
    flagged fallback; serialised, they would have queued behind each other."""
    import os
    import signal as sig
    import threading

    assert platform.server is not None
    os.kill(platform.server.pid, sig.SIGSTOP)
    answers: list[tuple[int, object, float]] = []
    started = time.monotonic()
    try:

        def call() -> None:
            status, body = signed_request(
                platform.gateway_url + "/predict", {"instances": [SAMPLE]}, platform.emulator.region
            )
            answers.append((status, body, time.monotonic() - started))

        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        os.kill(platform.server.pid, sig.SIGCONT)
    assert len(answers) == 6
    for status, body, _ in answers:
        assert status == 200 and body["fallback"] is True, body
    runtime = next(iter(platform.gateway.runtimes.values()))
    assert runtime.peak >= 6, f"at most {runtime.peak} invocations ran at once: requests were serialised"
