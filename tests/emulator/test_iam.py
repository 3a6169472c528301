"""IAM enforced in the emulator: who signs what, how workloads get their roles, and that a role missing one needed
statement fails its workload's phase with an access-denied error naming the action (known answers only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tricloud.emulate.least_privilege import removed
from tricloud.emulate.platform import SAMPLE, PlatformError, signed_request
from tricloud.engine import Emulator, iam
from tricloud.engine.emulator import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tricloud.engine.moto_server import _signed_as_listed

pytestmark = pytest.mark.emulator
ACCOUNT = "123456789012"
TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ],
}


def _client(emu: Emulator, service: str, key: str, secret: str, token: str | None = None):
    return boto3.client(
        service,
        endpoint_url=emu.moto_url,
        region_name=emu.region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def _role(emu: Emulator, name: str, statements: list[dict]) -> str:
    client = emu.client("iam")
    arn = client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))["Role"]["Arn"]
    if statements:
        client.put_role_policy(
            RoleName=name,
            PolicyName="p",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    return arn


def _drop_role(emu: Emulator, name: str) -> None:
    client = emu.client("iam")
    for pname in client.list_role_policies(RoleName=name)["PolicyNames"]:
        client.delete_role_policy(RoleName=name, PolicyName=pname)
    client.delete_role(RoleName=name)


# --- the emulator's identities ------------------------------------------------------------------------------------


def test_moto_authenticates_every_call_and_the_engine_signs_as_the_deployer(emulator) -> None:
    from moto import settings

    assert emulator.enforce_iam and settings.INITIAL_NO_AUTH_ACTION_COUNT == 0
    arn = emulator.client("sts").get_caller_identity()["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:user/tricloud/{iam.DEPLOYER}"
    # The learner's key is the gateway's and the shim's root; moto knows no root and refuses it.
    with pytest.raises(ClientError) as err:
        _client(emulator, "s3", ACCESS_KEY_ID, SECRET_ACCESS_KEY).list_buckets()
    assert err.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_a_second_emulator_on_the_same_moto_reuses_the_deployer_key(emulator) -> None:
    again = Emulator.start(emulator.region, endpoint=emulator.moto_url)
    try:
        assert again._deployer == emulator._deployer
        assert emulator.client("sts").get_caller_identity()["Account"] == ACCOUNT  # the first one still signs
    finally:
        again.stop()


def test_body_less_rest_calls_and_java_style_signatures_authenticate(emulator) -> None:
    """moto's own SigV4 check fails both; `tricloud.engine.moto_server.patch` fixes it (a tampered one still fails)."""
    gw = emulator.client("apigatewayv2")
    api = gw.create_api(Name="iam-probe", ProtocolType="HTTP")["ApiId"]
    try:
        gw.create_stage(ApiId=api, StageName="$default")
        assert [s["StageName"] for s in gw.get_stages(ApiId=api)["Items"]] == ["$default"]  # a GET
        gw.delete_stage(ApiId=api, StageName="$default")  # a DELETE without body
    finally:
        gw.delete_api(ApiId=api)
    key, secret = emulator._deployer

    def java_signed(tamper: bool) -> int:
        # The AWS SDK for Java v1 (s3a) also signs user-agent, which botocore's signer leaves out.
        url = f"{emulator.moto_url}/"
        host = url.split("/")[2]
        req = AWSRequest(method="GET", url=url, headers={"User-Agent": "aws-sdk-java/1.11.901", "Host": host})
        signer = SigV4Auth(Credentials(key, secret), "s3", emulator.region)
        signer.headers_to_sign = _signed_as_listed  # type: ignore[method-assign]
        req.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
        signer.add_auth(req)
        headers = dict(req.headers.items())
        if tamper:
            headers["User-Agent"] = "someone-else"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert java_signed(tamper=False) == 200
    assert java_signed(tamper=True) == 403


def test_a_workload_gets_its_role_only_through_the_service_its_trust_policy_names(emulator) -> None:
    arn = _role(emulator, "iam-test-trust", [])
    try:
        session = emulator.assume_role(arn, {"Service": "lambda.amazonaws.com"})
        assert session.session_arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/iam-test-trust/")
        who = _client(
            emulator, "sts", session.access_key_id, session.secret_access_key, session.session_token
        )
        assert who.get_caller_identity()["Arn"] == session.session_arn
        with pytest.raises(iam.IamError, match=r"sagemaker\.amazonaws\.com may not assume"):
            emulator.assume_role(arn, {"Service": "sagemaker.amazonaws.com"})
    finally:
        _drop_role(emulator, "iam-test-trust")


@pytest.mark.parametrize(
    ("principal", "context", "expected"),
    [
        ({"Service": "lambda.amazonaws.com"}, {"aws:SourceAccount": ACCOUNT}, True),
        (
            {"Service": "lambda.amazonaws.com"},
            {"aws:SourceAccount": "999999999999"},
            False,
        ),  # confused deputy
        ({"Service": "lambda.amazonaws.com"}, {}, False),  # a condition on an absent key fails, as on AWS
        ({"Service": "glue.amazonaws.com"}, {"aws:SourceAccount": ACCOUNT}, False),
        ({"Federated": "arn:aws:iam::123456789012:oidc-provider/x"}, {"aws:SourceAccount": ACCOUNT}, False),
    ],
)
def test_trust_policy_known_answers(principal, context, expected) -> None:
    assert iam.trust_allows(TRUST_LAMBDA, principal, context=context) is expected


def test_trust_policy_explicit_deny_wins_and_web_identity_conditions_are_read() -> None:
    provider = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    doc = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                    "StringLike": {"token.actions.githubusercontent.com:sub": "repo:o/r:environment:prod"},
                },
            },
            {
                "Effect": "Deny",
                "Principal": {"Federated": provider},
                "Action": "sts:*",
                "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "*:pull_request"}},
            },
        ]
    }
    claims = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    web = "sts:AssumeRoleWithWebIdentity"
    who = {"Federated": provider}
    ok = {**claims, "token.actions.githubusercontent.com:sub": "repo:o/r:environment:prod"}
    assert iam.trust_allows(doc, who, action=web, context=ok)
    assert not iam.trust_allows(
        doc,
        who,
        action=web,
        context={**claims, "token.actions.githubusercontent.com:sub": "repo:o/r:ref:refs/heads/main"},
    )
    denied = {**claims, "token.actions.githubusercontent.com:sub": "repo:o/r:environment:prod:pull_request"}
    assert not iam.trust_allows(doc, who, action=web, context=denied)
    assert not iam.trust_allows(doc, who, action="sts:AssumeRole", context=ok)  # the wrong action


def test_s3_is_authorized_per_object_and_denials_name_principal_action_resource(emulator) -> None:
    s3 = emulator.client("s3")
    bucket = "iam-test-bucket"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": emulator.region})
    for key in ("out/a", "out/b", "keep/c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    arn = _role(
        emulator,
        "iam-test-s3",
        [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket}/out/*",
            }
        ],
    )
    try:
        session = emulator.assume_role(arn, {"Service": "lambda.amazonaws.com"})
        role_s3 = emulator.session_client("s3", session)
        assert role_s3.get_object(Bucket=bucket, Key="out/a")["Body"].read() == b"x"
        mark = iam.DENIALS.mark()
        with pytest.raises(ClientError):
            role_s3.get_object(Bucket=bucket, Key="keep/c")
        with pytest.raises(ClientError):
            role_s3.put_object(Bucket=bucket, Key="out/new", Body=b"y")
        denied = iam.DENIALS.since(mark)
        assert [(d.principal, d.action, d.resource) for d in denied] == [
            (session.session_arn, "s3:GetObject", f"arn:aws:s3:::{bucket}/keep/c"),
            (session.session_arn, "s3:PutObject", f"arn:aws:s3:::{bucket}/out/new"),
        ]
        # DeleteObjects (s3a's overwrite and commit) is authorized per key, as on AWS.
        gone = role_s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "out/a"}, {"Key": "out/b"}]})
        assert sorted(d["Key"] for d in gone.get("Deleted", [])) == ["out/a", "out/b"] and not gone.get(
            "Errors"
        )
        kept = role_s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "keep/c"}]})
        assert [e["Code"] for e in kept.get("Errors", [])] == ["AccessDenied"]
        assert s3.get_object(Bucket=bucket, Key="keep/c")["Body"].read() == b"x"
    finally:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "keep/c"}]})
        s3.delete_bucket(Bucket=bucket)
        _drop_role(emulator, "iam-test-s3")


def test_authorizer_reads_the_role_like_moto_with_the_real_arn(emulator) -> None:
    endpoint = f"arn:aws:sagemaker:{emulator.region}:{ACCOUNT}:endpoint/one"
    arn = _role(
        emulator,
        "iam-test-authz",
        [
            {
                "Effect": "Allow",
                "Action": "sagemaker:InvokeEndpoint",
                "Resource": f"arn:aws:sagemaker:*:{ACCOUNT}:endpoint/*",
            },
            {
                "Effect": "Deny",
                "Action": "sagemaker:InvokeEndpoint",
                "Resource": f"arn:aws:sagemaker:*:{ACCOUNT}:endpoint/two",
            },
        ],
    )
    try:
        authz = iam.Authorizer(emulator.client("iam"))
        assert authz.allowed(arn, "sagemaker:InvokeEndpoint", endpoint)
        assert not authz.allowed(
            arn, "sagemaker:InvokeEndpoint", endpoint.replace("/one", "/two")
        )  # Deny wins
        assert not authz.allowed(arn, "sagemaker:DescribeEndpoint", endpoint)  # nothing allows it
    finally:
        _drop_role(emulator, "iam-test-authz")


def test_removed_takes_one_action_out_of_the_applied_role_and_puts_it_back(emulator) -> None:
    statements = [
        {
            "Sid": "A",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::b/x/*",
        },
        {"Sid": "B", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/y/*"},
    ]
    arn = _role(emulator, "iam-test-removed", statements)
    client = emulator.client("iam")

    def current() -> list[dict]:
        return client.get_role_policy(RoleName="iam-test-removed", PolicyName="p")["PolicyDocument"][
            "Statement"
        ]

    try:
        with removed(client, arn, "s3:GetObject", "/x/") as changed:
            assert changed == ["p"]
            assert [(st["Sid"], st["Action"]) for st in current()] == [
                ("A", ["s3:PutObject"]),
                ("B", ["s3:GetObject"]),
            ]
        with removed(client, arn, "s3:GetObject", "/y/"):
            assert [st["Sid"] for st in current()] == ["A"]  # an emptied statement goes
        with removed(client, arn, "s3:DeleteObject") as changed:
            assert changed == []
        assert current() == statements
    finally:
        _drop_role(emulator, "iam-test-removed")


def test_a_plain_moto_server_is_refused_with_the_fix(plain_moto_process) -> None:
    """`moto_server` (unpatched) breaks on signed body-less calls once enforcing: the start says what to run."""
    from tricloud.engine import EmulatorError

    with pytest.raises(EmulatorError, match=r"python -m tricloud\.engine\.moto_server"):
        Emulator.start("ap-south-1", endpoint=plain_moto_process.url)


# --- the platform: every workload as its role, one missing statement fails its phase -----------------------------


@contextmanager
def without(platform, role_arn: str, action: str, where: str = "") -> Iterator[None]:
    """The applied role without `action` in its statements on resources containing `where` (then restored)."""
    with removed(platform.emulator.client("iam"), role_arn, action, where) as changed:
        assert changed, f"{role_arn} has no statement with {action} on {where!r}"
        platform.authorizer.forget()
        try:
            yield
        finally:
            platform.authorizer.forget()


def test_the_whole_platform_ran_with_enforcement_and_each_workload_as_its_role(platform) -> None:
    ids = platform.identities()
    assert platform.emulator.enforce_iam
    assert ids["spark job"] == (platform.outputs["spark_job_role"], "emr-serverless.amazonaws.com")
    assert ids["training"] == (platform.outputs["training_role"], "sagemaker.amazonaws.com")
    assert ids["endpoint"][0].endswith("/tricloud-aws-dev-sagemaker-endpoint")
    assert ids["function"][0].endswith("/tricloud-aws-dev-api-function")
    sessions = {s.role_arn for s in platform.keys.sessions.values()}
    assert {role for role, _ in ids.values()} <= sessions  # each workload got its own role's session
    # The run needed no denial to get here (the removal tests below come later in this module).
    assert not platform.denials_log.exists(), platform.denials_log.read_text()


def assert_denied(
    err: pytest.ExceptionInfo[PlatformError], phase: str, role: str, action: str, where: str
) -> None:
    """The phase failed on the denial, naming the role's session, the action and the resource."""
    message = str(err.value)
    assert message.startswith(f"{phase}: denied by IAM: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/"), message
    assert f" is not authorized to perform {action} on " in message and where in message, message


def test_spark_overwrite_needs_delete_on_the_curated_zone(platform) -> None:
    """DESIGN section 8: s3a's overwrite commits by copy + delete. Without s3:DeleteObject the job fails."""
    role = platform.outputs["spark_job_role"]
    with without(platform, role, "s3:DeleteObject", "-curated-"), pytest.raises(PlatformError) as err:
        platform.run_spark()
    assert_denied(err, "spark", "tricloud-aws-dev-spark-job", "s3:DeleteObject", "-curated-")


def test_training_without_its_models_write_fails_naming_put_object(platform) -> None:
    role = platform.outputs["training_role"]
    with without(platform, role, "s3:PutObject", "/models/"), pytest.raises(PlatformError) as err:
        platform.train()
    assert_denied(err, "train", "tricloud-aws-dev-sagemaker-training", "s3:PutObject", "/models/")


def test_endpoint_model_loading_needs_get_object_on_models(platform) -> None:
    role = platform.identities()["endpoint"][0]
    try:
        platform.stop_serving()
        with without(platform, role, "s3:GetObject", "/models/"), pytest.raises(PlatformError) as err:
            platform.serve()
        assert_denied(err, "serve", "tricloud-aws-dev-sagemaker-endpoint", "s3:GetObject", "/models/")
    finally:
        platform.stop_serving()
        platform.serve()
        platform.start_gateway()
    assert platform.smoke()["fallback"] is False


def test_function_without_invoke_endpoint_fails_the_first_prediction(platform) -> None:
    role = platform.identities()["function"][0]
    with without(platform, role, "sagemaker:InvokeEndpoint"), pytest.raises(PlatformError) as err:
        platform.smoke()
    where = f"endpoint/{platform.outputs['endpoint_name']}"
    assert_denied(err, "first prediction", "tricloud-aws-dev-api-function", "sagemaker:InvokeEndpoint", where)
    status, body = signed_request(
        platform.gateway_url + "/predict", {"instances": [SAMPLE]}, platform.emulator.region
    )
    assert status == 200 and body["fallback"] is False  # restored


def test_function_without_kms_decrypt_cannot_start(platform) -> None:
    """Lambda decrypts the CMK-encrypted environment as the function's role before importing the handler."""
    role = platform.identities()["function"][0]
    try:
        with without(platform, role, "kms:Decrypt"), pytest.raises(PlatformError) as err:
            if platform.gateway is not None:
                platform.gateway.close()
                platform.gateway = None
            platform.start_gateway()
        assert_denied(err, "gateway", "tricloud-aws-dev-api-function", "kms:Decrypt", f":{ACCOUNT}:key/")
    finally:
        if platform.gateway is None:
            platform.start_gateway()
    assert platform.smoke()["fallback"] is False


def test_function_without_log_permissions_loses_its_logs_not_its_answers(platform) -> None:
    """As on AWS: the invocation succeeds, the log lines never reach the log group, and the denial is recorded."""
    role = platform.identities()["function"][0]
    fn = platform.outputs["function_name"]
    mark = iam.DENIALS.mark()
    with without(platform, role, "logs:PutLogEvents"):
        status, body = signed_request(
            platform.gateway_url + "/predict", {"instances": [SAMPLE]}, platform.emulator.region
        )
        assert status == 200 and body["fallback"] is False
        time.sleep(0.2)
    denied = [d for d in iam.DENIALS.since(mark) if d.action == "logs:PutLogEvents"]
    assert denied and f":log-group:/aws/lambda/{fn}:log-stream:" in denied[0].resource
    assert denied[0].principal.startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/tricloud-aws-dev-api-function/"
    )
    assert "logs:PutLogEvents" in platform.denials_log.read_text()
    shown = _cli(["logs", "aws", "-n", "3"], platform.engine.state_path.parent)
    assert shown.returncode == 0 and "iam-denials" in shown.stderr, shown.stderr
    assert "AccessDenied (lambda)" in shown.stdout and "logs:PutLogEvents" in shown.stdout


def _cli(args: list[str], state_dir, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRICLOUD_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "tricloud", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_demo_tells_the_learner_iam_is_enforced_and_where_denials_show(tmp_path) -> None:
    run = _cli(["emulate", "aws", "--apply-only", "--json"], tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    out = " ".join(run.stderr.split())  # rich wraps lines
    assert (
        f"IAM enforced: moto authenticates and authorizes every call; the stack was applied by IAM user {iam.DEPLOYER}"
        in out
    )
    for workload, role, service in (
        ("spark job", "tricloud-aws-dev-spark-job", "emr-serverless.amazonaws.com"),
        ("training", "tricloud-aws-dev-sagemaker-training", "sagemaker.amazonaws.com"),
        ("endpoint", "tricloud-aws-dev-sagemaker-endpoint", "sagemaker.amazonaws.com"),
        ("function", "tricloud-aws-dev-api-function", "lambda.amazonaws.com"),
    ):
        assert f"{workload} {role} (assumed by {service})" in out
    assert "fails its phase naming the action and the resource, and is logged to" in out
    assert "logs/aws-dev/iam-denials.log" in out
    summary = json.loads(run.stdout)["iam"]
    assert summary["enforced"] is True and summary["deployer"] == iam.DEPLOYER
    assert summary["roles"]["function"]["assumed_by"] == "lambda.amazonaws.com"
    assert summary["not_enforced_on"] == []


def test_run_as_runs_a_command_with_a_role_session(platform, tmp_path) -> None:
    """The seam for the delivery commands: any command, as one of the stack's roles, against the running emulator."""
    env = {**os.environ, "TRICLOUD_STATE_DIR": str(platform.engine.state_path.parent)}
    script = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"

    def run_as(*options: str) -> subprocess.CompletedProcess[str]:
        role = "tricloud-aws-dev-sagemaker-training"
        argv = [sys.executable, "-m", "tricloud", "emulate", "run-as", role, *options]
        return subprocess.run(
            [*argv, "--", sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
        )

    proc = run_as()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/tricloud-aws-dev-sagemaker-training/"
    ), proc.stdout
    denied = run_as("--principal", "lambda.amazonaws.com")
    assert denied.returncode == 2 and "may not assume" in denied.stderr
