"""The CI rollout identity can run the deploy job's model steps and needs nothing broader (issue 10, Deliver 3).

stacks/aws is applied to moto (its own process, IAM enforced) by the local engine; the test then signs in as the
stack's `ci-rollout` role the way the deploy job does: the emulator's `assume_role` with the GitHub OIDC provider as
the federated principal and the claims GitHub puts in the rollout job's token (derived from the workflow files by
tests/workflows/test_oidc_claims.py), checked against the role's trust. Every step then runs exactly as
deploy-stack.yml calls it (`tricloud model train|register|approve|rollout|smoke|rollback aws --stack dev --outputs
F --json`, plus `--endpoint` offline), signed with that session (`TRICLOUD_EMULATOR_CREDENTIALS=environment`, what
`tricloud emulate run-as` sets). The recorder (recorder.py) turns every call into IAM's (action, resource ARN,
context), refuses what the role's policy does not allow (iam_eval.py, our own evaluator) and keeps moto's own denials.

Asserted: no denial; every call allowed; every Allow statement needed by some call (removing it denies one), except
the documented ones in NOT_EXERCISED. `test_one_statement_narrower_or_broader_is_caught` shows both checks failing
on a one-statement change of the applied policy.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from iam_eval import Statement, decide, statements
from offline import REGION, OfflineStack, apply_stack, moto_process, run_cli
from recorder import Arns, Recorder, Request, recording
from test_oidc_claims import jobs, token_for

from tricloud.engine import Emulator, iam
from tricloud.engine.emulator import SIGN_AS_ENV
from tricloud.model.base import LOCAL_STATE_ENV

HOST = "token.actions.githubusercontent.com"

# Allow statements no offline run needs, each with why AWS needs it. Anything else unused fails the test.
NOT_EXERCISED = {
    "EcrLogin": "the deploy job's `docker login` before push-image.sh pushes app/Dockerfile's image; offline the "
    "commands publish the image manifest through the ECR API, which needs no token",
    "JudgeTheCanary": "rollout reads the alarms only when the canary is rolled back, to name the alarms that fired "
    "(moto never fires them)",
    "SwitchToServingVersion": "UpdateEndpoint's endpoint-configuration half: offline the engine stands in for "
    "UpdateEndpoint (moto has none) and authorizes the role on the endpoint ARN only",
    "UseLakeKey": "S3 calls KMS with the caller's rights for SSE-KMS objects (lake key); moto's S3 does not",
}


@dataclass
class Signed:
    stack: OfflineStack
    role_arn: str
    session: iam.Session
    recorder: Recorder

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            **self.session.env(),
            SIGN_AS_ENV: "environment",  # what `tricloud emulate run-as` sets: the commands sign as the session
            LOCAL_STATE_ENV: str(self.stack.state_path),
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "",
            **(extra or {}),
        }


# --- the deploy job's model steps, read from the workflow -----------------------------------------------------------

DEPLOY = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "deploy-stack.yml"
EXPORT = re.compile(r'echo "(\w+)=\$\(jq -er \.(\w+) "\$RUNNER_TEMP/\w+\.json"\)" >> "\$GITHUB_OUTPUT"')
STEP_OUTPUT = re.compile(r"\$\{\{\s*steps\.(\w+)\.outputs\.(\w+)\s*\}\}")


def model_steps() -> dict[str, dict[str, Any]]:
    """deploy-stack.yml's steps that run `tricloud model`, by verb (train, register, ..., rollback)."""
    wf = yaml.safe_load(DEPLOY.read_text())
    out: dict[str, dict[str, Any]] = {}
    for job in wf["jobs"].values():
        for step in job.get("steps", []):
            m = re.search(r"tricloud model (\w+)", step.get("run", ""))
            if m:
                out[m.group(1)] = step
    return out


def run_step(
    signed: Signed,
    step: dict[str, Any],
    outputs: dict[str, dict[str, str]],
    env: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any] | None, str]:
    """Run one step's `tricloud model` line in-process as the workflow writes it ($CLOUD, $STACK, $OUTPUTS and the
    step's env from earlier steps' outputs), offline with `--endpoint`; its `jq -er .key` exports must find a value."""
    # GITHUB_SHA: GitHub sets it in every step (the image is pushed and trained under the commit)
    values = {
        "CLOUD": "aws",
        "STACK": "dev",
        "OUTPUTS": str(signed.stack.outputs_file),
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
    }
    for name, expr in (step.get("env") or {}).items():
        m = STEP_OUTPUT.fullmatch(str(expr).strip())
        assert m, f"{step['name']}: env {name} = {expr!r} is not a step output"
        values[name] = outputs[m.group(1)][m.group(2)]
    (line,) = [ln for ln in step["run"].splitlines() if "tricloud model" in ln]
    argv = shlex.split(line.split(" > ", 1)[0])
    assert argv[0] == ".venv/bin/tricloud", line
    args = [values[a[1:]] if a.startswith("$") else a for a in argv[1:]]
    code, doc, err = run_cli(*args, "--endpoint", signed.stack.emulator.moto_url, env=signed.env(env))
    if code == 0:
        for name, key in EXPORT.findall(step["run"]):
            assert doc is not None and doc.get(key) not in (None, False), (
                f"{step['name']}: `jq -er .{key}` finds nothing in {sorted(doc or {})}"
            )
            outputs.setdefault(step.get("id", ""), {})[name] = str(doc[key])
    return code, doc, err


def role_statements(emu: Emulator, role_arn: str) -> list[Statement]:
    """The role's inline and attached policies as applied in the emulator, read as the deployer."""
    docs: list[str] = []
    origins: list[str] = []
    auth = iam.Authorizer(emu.client("iam"), ttl_s=0)
    for doc in auth.policies(role_arn):
        docs.append(doc)
        origins.append(role_arn.rsplit("/", 1)[-1])
    return statements(docs, origins)


def deploy_job_claims(duty: str) -> dict[str, str]:
    """The token claims of deploy-stack.yml's `duty` job for the AWS dev stack, as STS condition keys."""
    (job,) = [j for j in jobs() if j.cloud == "aws" and j.stack == "dev" and j.duty == duty]
    token = token_for(job, "aws", "dev", immutable=False)
    return {f"{HOST}:{k}": v for k, v in token.items()}


def tags_reader(emu: Emulator) -> Any:
    sm = emu.client("sagemaker")

    def tags(arn: str) -> dict[str, str]:
        if ":sagemaker:" not in arn or arn.endswith("*"):
            return {}
        try:
            return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn).get("Tags", [])}
        except Exception:  # a resource not created yet has no tags
            return {}

    return tags


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    with moto_process() as url:
        emu = Emulator.start(REGION, endpoint=url)
        stack = apply_stack(emu, tmp_path_factory.mktemp("cicd"))
        stack.put_curated("run-20250101T000000Z", rows=1200, seed=7)
        stack.put_holdout()
        role_arn = stack.outputs["ci_rollout_identity"]
        provider = stack.outputs["ci_identity_provider"]
        session = emu.assume_role(
            role_arn,
            {"Federated": provider},
            session_name="github-actions",
            context=deploy_job_claims("ROLLOUT"),
        )
        account = role_arn.split(":")[4]
        rec = Recorder(
            access_key=session.access_key_id,
            principal=session.session_arn,
            arns=Arns(REGION, account, tags_reader(emu)),
            policy=lambda: role_statements(emu, role_arn),
            enforce=os.environ.get("TRICLOUD_CI_PERMISSIONS_DISCOVER") != "1",
        )
        yield Signed(stack, role_arn, session, rec)


def needed(policy: list[Statement], calls: list[Request]) -> dict[str, list[Request]]:
    """Allow statement sid -> the recorded calls that its removal would deny (empty: not needed)."""
    out: dict[str, list[Request]] = {}
    for st in policy:
        if st.effect != "Allow":
            continue
        rest = [s for s in policy if s is not st]
        out[st.sid] = [c for c in calls if not decide(rest, c.action, c.resource, c.ctx()).allowed]
    return out


def not_needed(policy: list[Statement], calls: list[Request]) -> list[str]:
    return sorted(sid for sid, lost in needed(policy, calls).items() if not lost and sid not in NOT_EXERCISED)


@pytest.fixture(scope="module")
def pipeline(signed: Signed) -> Iterator[dict[str, Any]]:
    """Two runs of the deploy job's model steps (the second rolls out a challenger and smoke-tests it through the
    API), then the rollback step."""
    from tricloud.emulate.platform import Options, Platform
    from tricloud.engine import Engine, State

    steps = model_steps()
    assert set(steps) == {"train", "register", "approve", "rollout", "smoke", "rollback"}
    out: dict[str, Any] = {"codes": []}
    mark, served = iam.DENIALS.mark(), len(iam.SERVED)
    stack = signed.stack
    platform = Platform(stack.emulator, Options(state_path=stack.state_path))
    with recording(signed.recorder), invokes_recorded(signed):
        try:
            for run in (1, 2):
                outputs: dict[str, dict[str, str]] = {}
                for verb in ("train", "register", "approve", "rollout"):
                    code, doc, err = run_step(signed, steps[verb], outputs)
                    out["codes"].append((run, verb, code))
                    assert code == 0, f"run {run}, {verb}: {err}"
                out[f"run{run}"] = outputs
                out[f"rollout{run}"] = doc
            # The API as `tricloud emulate aws` serves it (inference server, runtime shim, gateway), as the deployer.
            platform.engine = Engine(stack.emulator, stack="dev", state_path=stack.state_path)
            platform.engine.state = State.load(stack.state_path)
            platform.outputs = dict(stack.outputs)
            platform.serve()
            platform.start_gateway()
            platform.gateway.keys[signed.session.access_key_id] = signed.session.secret_access_key
            out["smoke"] = run_step(
                signed,
                steps["smoke"],
                {"register": out["run2"]["register"]},
                {"TRICLOUD_API_URL": platform.gateway_url},
            )
        finally:
            platform.close()
        out["rollback"] = run_step(signed, steps["rollback"], {})
    signed.recorder.absorb_served(list(iam.SERVED)[served:])
    if not signed.recorder.enforce:  # discovery: every distinct request, for writing the policy
        for line in sorted({str(c) for c in signed.recorder.calls}):
            print("CALL", line)
    out["denials"] = iam.DENIALS.since(mark)
    yield out


@contextmanager
def invokes_recorded(signed: Signed) -> Iterator[None]:
    """The smoke test's API calls are HTTP, not boto3: each POST the rollout session signs is recorded as
    execute-api:Invoke on the route's execution ARN (the HTTP API's `$default` stage), refused when not allowed."""
    import tricloud.model.smoke as smoke

    original = smoke.sigv4_signer
    account = signed.role_arn.split(":")[4]
    api_id = signed.stack.emulator.client("apigatewayv2").get_apis()["Items"][0]["ApiId"]

    def signer(region: str, credentials: Any) -> Any:
        sign = original(region, credentials)

        def recorded(url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
            path = "/" + url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
            arn = f"arn:aws:execute-api:{region}:{account}:{api_id}/$default/POST{path}"
            if credentials.access_key == signed.recorder.access_key:
                denied = signed.recorder.record(
                    [Request("execute-api:Invoke", arn, (), "execute-api:Invoke")]
                )
                if denied is not None:
                    raise PermissionError(str(denied))
            return sign(url, body, headers)

        return recorded

    smoke.sigv4_signer = signer
    try:
        yield
    finally:
        smoke.sigv4_signer = original


def test_the_deploy_job_steps_succeed_as_the_rollout_role(signed: Signed, pipeline: dict[str, Any]) -> None:
    r = signed.recorder
    assert r.unmapped == [], f"calls without an IAM rule in recorder.py: {sorted(set(r.unmapped))}"
    assert r.denied == [] and r.moto_denied == [], (sorted({str(d) for d in r.denied}), r.moto_denied)
    assert pipeline["denials"] == []
    code, smoke, err = pipeline["smoke"]
    assert code == 0, err
    # The API answered with the second run's model, as deploy-stack.yml's smoke step expects it.
    assert smoke is not None and smoke["passed"] == smoke["requests"] > 0
    assert smoke["expected_version"] == pipeline["run2"]["register"]["label"]
    assert pipeline["rollout2"]["changed"] is True
    code, back, err = pipeline["rollback"]
    assert code == 0, err
    # Back to the first run's version, which the registry recorded for it.
    assert back["serving"] == pipeline["run1"]["register"]["version"]
    # The steps ran as the rollout role's session, which GitHub's OIDC provider assumed.
    assert f":assumed-role/{signed.role_arn.rsplit('/', 1)[-1]}/github-actions" in signed.session.session_arn


def test_every_recorded_call_is_allowed_and_every_statement_is_needed(
    signed: Signed, pipeline: dict[str, Any]
) -> None:
    policy = role_statements(signed.stack.emulator, signed.role_arn)
    calls = signed.recorder.calls
    assert len(calls) > 50  # the whole pipeline ran through the recorder
    refused = [str(c) for c in calls if not decide(policy, c.action, c.resource, c.ctx()).allowed]
    assert refused == []
    assert not_needed(policy, calls) == []
    sids = {s.sid for s in policy}
    assert set(NOT_EXERCISED) <= sids, (
        "an allow-listed statement no longer exists: drop it from NOT_EXERCISED"
    )
    used = {sid for sid, lost in needed(policy, calls).items() if lost}
    assert not (used & set(NOT_EXERCISED)), f"allow-listed but exercised: {used & set(NOT_EXERCISED)}"


def test_one_statement_narrower_or_broader_is_caught(signed: Signed, pipeline: dict[str, Any]) -> None:
    emu = signed.stack.emulator
    iam_client = emu.client("iam")
    name = signed.role_arn.rsplit("/", 1)[-1]
    (policy_name,) = iam_client.list_role_policies(RoleName=name)["PolicyNames"]
    original = iam_client.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
    doc = original if isinstance(original, dict) else json.loads(original)
    try:
        # Narrower: without the serving-record statement, `model status` is refused on ssm:GetParameter.
        narrow = {**doc, "Statement": [s for s in doc["Statement"] if s.get("Sid") != "ServingModelVersion"]}
        assert len(narrow["Statement"]) == len(doc["Statement"]) - 1
        iam_client.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(narrow))
        mark = iam.DENIALS.mark()
        with recording(signed.recorder):
            code, _, err = run_cli(
                "model",
                "status",
                "aws",
                "--stack",
                "dev",
                "--outputs",
                str(signed.stack.outputs_file),
                "--endpoint",
                signed.stack.emulator.moto_url,
                "--json",
                env=signed.env(),
            )
        assert code != 0
        denials = iam.DENIALS.since(mark)
        assert denials and denials[0].action == "ssm:GetParameter", (denials, err)
        assert "ssm:GetParameter" in err
        # Broader: one more statement that no call needs is named by the check.
        broad = {
            **doc,
            "Statement": [
                *doc["Statement"],
                {
                    "Sid": "OneMoreEndpointRight",
                    "Effect": "Allow",
                    "Action": ["sagemaker:DeleteEndpoint", "sagemaker:UpdateEndpoint"],
                    "Resource": "*",
                },
            ],
        }
        policy = statements([broad])
        assert not_needed(policy, signed.recorder.calls) == ["OneMoreEndpointRight"]
    finally:
        iam_client.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(doc))
