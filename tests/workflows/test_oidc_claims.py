"""For every job in .github/workflows that signs in to a cloud, derive the OIDC claims GitHub would send (event, ref,
environment, job_workflow_ref; the legacy and the immutable subject form) and evaluate each cloud's trust as the
cloud does, on the trusts the stacks render under Pulumi mocks:

- AWS: the role's trust policy (StringEquals / StringLike over `token.actions.githubusercontent.com:<claim>`; a
  claim the token lacks fails its condition, as STS does);
- Azure: federated identity credentials (issuer, audience and the exact `sub`);
- GCP: the provider's attribute condition, evaluated as CEL by cel-python (`celpy`, the cloud-custodian project's
  maintained CEL implementation), then the service account's `principal://.../subject/<sub>` binding.

Each identity must accept exactly the jobs meant to use it and refuse: the same job from another branch, a fork's
pull request (no token), a pull-request job for deploy identities, and another repository. Where a cloud cannot see
a claim (Azure cannot see the ref), the test says which GitHub setting carries the pin and checks that stacks/github
sets it. `test_a_trust_widened_or_narrowed_by_one_statement_is_caught` shows the check failing on a one-statement
change of a trust.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml

from components.ci_identity.spec import GITHUB_ISSUER
from tricloud.inventory import build_inventory, stack_config

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
OWNER, NAME = "tricloud", "tricloud"
OWNER_ID, REPO_ID = "4242", "777"
MAIN = "refs/heads/main"
CLOUDS = ("aws", "azure", "gcp")
AUTH_ACTIONS = {
    "aws-actions/configure-aws-credentials": ("aws", "role-to-assume"),
    "azure/login": ("azure", "client-id"),
    "google-github-actions/auth": ("gcp", "service_account"),
}
AUDIENCE = {
    "aws": "sts.amazonaws.com",
    "azure": "api://AzureADTokenExchange",
}  # GCP: the provider's resource URL


# --- the jobs, read from the workflow files -------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One job that requests a cloud token, with what GitHub puts in the token when it runs as intended."""

    workflow: str  # the file defining the job: job_workflow_ref names it
    job: str
    caller: str  # the top-level workflow (deploy.yml calls deploy-stack.yml)
    cloud: str
    duty: str  # which identity variable the job signs in with (PREVIEW, INFRASTRUCTURE, ROLLOUT)
    stack: str  # which stack's identities it means (preview jobs preview dev)
    event: str
    environment: str | None
    ref: str

    @property
    def label(self) -> str:
        return f"{self.caller}>{self.workflow}:{self.job}[{self.cloud}/{self.stack}, {self.ref}]"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def resolve(text: Any, values: dict[str, str]) -> Any:
    """`${{ inputs.x }}` / `${{ matrix.x }}` replaced from `values` (the only expressions the jobs' keys use)."""
    if not isinstance(text, str):
        return text
    return re.sub(r"\$\{\{\s*(inputs|matrix)\.([\w-]+)\s*\}\}", lambda m: values[m.group(2)], text)


def cloud_of(step: dict[str, Any], values: dict[str, str]) -> bool:
    """Whether a step's `if` lets it run for the job's cloud (`matrix.cloud == 'aws'` / `inputs.cloud == ...`)."""
    cond = step.get("if", "")
    wanted = re.findall(r"(?:inputs|matrix)\.cloud == '(\w+)'", cond)
    return not wanted or values.get("cloud") in wanted


def signing_steps(job: dict[str, Any], values: dict[str, str]) -> list[tuple[str, str]]:
    """(cloud, identity variable) of every cloud sign-in step the job runs."""
    out = []
    for step in job.get("steps", []):
        action = step.get("uses", "").split("@")[0]
        if action in AUTH_ACTIONS and cloud_of(step, values):
            cloud, key = AUTH_ACTIONS[action]
            var = re.fullmatch(r"\$\{\{ vars\.(\w+) \}\}", step["with"][key]).group(1)  # type: ignore[union-attr]
            out.append((cloud, var))
    return out


@cache
def jobs() -> tuple[Job, ...]:
    out: list[Job] = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        wf = load(path.name)
        events = wf["on"] if isinstance(wf["on"], dict) else {e: None for e in wf["on"]}
        if "workflow_call" in events:
            continue  # expanded from its callers
        event = "pull_request" if "pull_request" in events else "push"
        ref = "refs/pull/17/merge" if event == "pull_request" else MAIN
        for job_id, job in wf["jobs"].items():
            if "uses" in job:
                called = job["uses"].removeprefix("./.github/workflows/")
                inner = load(called)["jobs"]
                targets = [(called, jid, j, dict(job.get("with", {}))) for jid, j in inner.items()]
            else:
                matrix = job.get("strategy", {}).get("matrix", {}).get("cloud", [None])
                targets = [(path.name, job_id, job, {"cloud": c} if c else {}) for c in matrix]
            for workflow, jid, body, values in targets:
                if body.get("permissions", {}).get("id-token") != "write":
                    continue
                for cloud, var in signing_steps(body, values):
                    duty = re.search(r"(PREVIEW|INFRASTRUCTURE|ROLLOUT)", var).group(1)  # type: ignore[union-attr]
                    environment = resolve(body.get("environment"), values)
                    stack = values.get("stack", "dev")
                    out.append(Job(workflow, jid, path.name, cloud, duty, stack, event, environment, ref))
    return tuple(out)


def claims(job: Job, *, immutable: bool, repository: str = f"{OWNER}/{NAME}", repo_id: str = REPO_ID,
           owner_id: str = OWNER_ID) -> dict[str, str]:  # fmt: skip
    """The token GitHub mints for `job` (docs: OIDC token claims; DESIGN.md 8 for the subject forms)."""
    owner, name = repository.split("/")
    prefix = f"repo:{owner}@{owner_id}/{name}@{repo_id}" if immutable else f"repo:{repository}"
    if job.environment:
        sub = f"{prefix}:environment:{job.environment}"
    elif job.event == "pull_request":
        sub = f"{prefix}:pull_request"
    else:
        sub = f"{prefix}:ref:{job.ref}"
    out = {
        "iss": GITHUB_ISSUER,
        "sub": sub,
        "repository": repository,
        "repository_id": repo_id,
        "repository_owner": owner,
        "repository_owner_id": owner_id,
        "ref": job.ref,
        "event_name": job.event,
        "job_workflow_ref": f"{repository}/.github/workflows/{job.workflow}@{job.ref}",
    }
    if job.environment:
        out["environment"] = job.environment
    return out


# --- the trusts, rendered by the stacks under mocks ----------------------------------------------------------------


@cache
def inventory(cloud: str, stack: str, immutable: bool) -> dict[str, Any]:
    values = stack_config(cloud, stack)
    ci = {**values["tricloud:ci"], "github_repository": f"{OWNER}/{NAME}"}
    if immutable:
        ci |= {"github_owner_id": int(OWNER_ID), "github_repository_id": int(REPO_ID)}
    return build_inventory(cloud, stack, config={**values, "tricloud:ci": ci})


Identity = Callable[[dict[str, str] | None, str], bool]  # (claims or None = no token, cloud) -> accepted


def _aws_like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))  # `*` and `?` as IAM's StringLike


def aws_accepts(trust: dict[str, Any], provider: str, token: dict[str, str] | None) -> bool:
    """STS AssumeRoleWithWebIdentity against one trust policy (Allow statements only, as the stacks render)."""
    if token is None:
        return False
    host = GITHUB_ISSUER.removeprefix("https://")
    for st in trust["Statement"]:
        if st["Effect"] != "Allow" or st["Action"] != "sts:AssumeRoleWithWebIdentity":
            continue
        if st["Principal"] != {"Federated": provider}:
            continue
        ok = True
        for op, conds in st.get("Condition", {}).items():
            for key, wanted in conds.items():
                claim = token.get(key.removeprefix(f"{host}:")) if key.startswith(f"{host}:") else None
                if key == f"{host}:aud":
                    claim = token.get("aud")
                values = wanted if isinstance(wanted, list) else [wanted]
                if claim is None:
                    ok = False  # a missing claim fails the condition (no ...IfExists here)
                elif op == "StringEquals":
                    ok &= claim in values
                elif op == "StringLike":
                    ok &= any(_aws_like(v, claim) for v in values)
                else:
                    raise AssertionError(f"trust uses {op}: teach this evaluator what STS does with it")
        if ok:
            return True
    return False


def aws_identities(stack: str, immutable: bool) -> dict[str, Identity]:
    inv = inventory("aws", stack, immutable)
    provider = inv["outputs"]["ci_identity_provider"]
    out: dict[str, Identity] = {}
    for r in inv["resources"]:
        name = r["inputs"].get("name", "")
        if r["type"] == "aws:iam/role:Role" and "-ci-" in name:
            duty = name.rsplit("-ci-", 1)[1].upper()
            trust = json.loads(r["inputs"]["assumeRolePolicy"])
            out[duty] = lambda t, c, trust=trust: c == "aws" and aws_accepts(trust, provider, t)
    return out


def azure_identities(stack: str, immutable: bool) -> dict[str, Identity]:
    inv = inventory("azure", stack, immutable)
    out: dict[str, Identity] = {}
    for r in inv["resources"]:
        if r["type"] == "azure-native:managedidentity:FederatedIdentityCredential":
            cred = r["inputs"]
            duty = r["name"].split("-")[1].upper()  # ci-<duty>-github
            out[duty] = lambda t, c, cred=cred: (
                c == "azure"
                and t is not None
                and t["iss"] == cred["issuer"]
                and t.get("aud") in cred["audiences"]
                and t["sub"] == cred["subject"]  # Entra compares the subject exactly
            )
    return out


CEL = celpy.Environment()


def cel_true(expression: str, token: dict[str, str]) -> bool:
    program = CEL.program(CEL.compile(expression))
    try:
        result = program.evaluate(celpy.json_to_cel({"assertion": token}))
        return isinstance(result, celpy.celtypes.BoolType) and bool(result)
    except celpy.CELEvalError:
        return False  # an expression that errors (a missing claim) rejects the token, as STS for GCP does


def gcp_identities(stack: str, immutable: bool) -> dict[str, Identity]:
    inv = inventory("gcp", stack, immutable)
    provider = next(r for r in inv["resources"] if r["type"].endswith("WorkloadIdentityPoolProvider"))
    condition = provider["inputs"]["attributeCondition"]
    audience = f"https://iam.googleapis.com/{inv['outputs']['ci_identity_provider']}"
    mapping = provider["inputs"]["attributeMapping"]
    assert mapping["google.subject"] == "assertion.sub"
    out: dict[str, Identity] = {}
    for r in inv["resources"]:
        if r["type"] == "gcp:serviceaccount/iAMMember:IAMMember" and r["name"].endswith("-wif-user"):
            member = r["inputs"]["member"]
            duty = r["name"].split("-")[1].upper()

            def accepts(t: dict[str, str] | None, c: str, member: str = member) -> bool:
                if c != "gcp" or t is None or t.get("aud") != audience:
                    return False
                if not cel_true(condition, t):
                    return False
                return member.endswith(f"/subject/{t['sub']}")  # google.subject = assertion.sub

            out[duty] = accepts
    return out


def identities(cloud: str, stack: str, immutable: bool) -> dict[str, Identity]:
    return {"aws": aws_identities, "azure": azure_identities, "gcp": gcp_identities}[cloud](stack, immutable)


def token_for(job: Job, cloud: str, stack: str, *, immutable: bool, **overrides: str) -> dict[str, str]:
    t = claims(job, immutable=immutable, **overrides)
    if cloud == "gcp":
        t["aud"] = (
            f"https://iam.googleapis.com/{inventory('gcp', stack, immutable)['outputs']['ci_identity_provider']}"
        )
    else:
        t["aud"] = AUDIENCE[cloud]
    return t


# --- the checks -----------------------------------------------------------------------------------------------------


def violations(cloud: str, stack: str, duty: str, identity: Identity, *, immutable: bool) -> list[str]:
    """Why `identity` is wrong, or [] when it accepts exactly its jobs and refuses the rest."""
    out: list[str] = []
    for job in jobs():
        # Intended: this duty's job of this stage. The same job run for another cloud sends the same claims (it
        # never asks this cloud for a token, but could): it is the same job, so it counts as intended too.
        intended = job.duty == duty and job.stack == stack
        token = token_for(job, cloud, stack, immutable=immutable)
        if identity(token, cloud) != intended:
            out.append(f"{'refuses' if intended else 'accepts'} {job.label}")
        other_repo = token_for(job, cloud, stack, immutable=immutable, repository="mallory/tricloud", repo_id="9",
                               owner_id="8")  # fmt: skip
        if identity(other_repo, cloud):
            out.append(f"accepts another repository: {job.label}")
        if job.event != "pull_request":
            branch = token_for(replace(job, ref="refs/heads/feature"), cloud, stack, immutable=immutable)
            if identity(branch, cloud) and not (cloud == "azure" and job.environment):
                out.append(f"accepts another branch: {job.label}")
            as_pr = token_for(replace(job, event="pull_request", ref="refs/pull/9/merge"), cloud, stack,
                              immutable=immutable)  # fmt: skip
            if duty != "PREVIEW" and identity(as_pr, cloud) and not (cloud == "azure" and job.environment):
                out.append(f"accepts a pull-request run: {job.label}")
        if identity(None, cloud):
            out.append("accepts without a token (a fork's pull request gets none)")
    return out


STACK_DUTIES = [(c, "dev", d) for c in CLOUDS for d in ("PREVIEW", "INFRASTRUCTURE", "ROLLOUT")] + [
    (c, "prod", d) for c in CLOUDS for d in ("INFRASTRUCTURE", "ROLLOUT")
]


def test_the_workflows_sign_in_where_expected() -> None:
    kinds = {(j.caller, j.workflow, j.job, j.cloud, j.duty, j.stack, j.environment, j.event) for j in jobs()}
    for cloud in CLOUDS:
        assert (
            "preview.yml",
            "preview.yml",
            "preview",
            cloud,
            "PREVIEW",
            "dev",
            None,
            "pull_request",
        ) in kinds
        for stage in ("dev", "prod"):
            assert (
                "deploy.yml",
                "deploy-stack.yml",
                "infrastructure",
                cloud,
                "INFRASTRUCTURE",
                stage,
                stage,
                "push",
            ) in kinds
            assert (
                "deploy.yml",
                "deploy-stack.yml",
                "model",
                cloud,
                "ROLLOUT",
                stage,
                f"{stage}-model",
                "push",
            ) in kinds
    assert len(kinds) == 15  # nothing else holds id-token: write with a cloud sign-in


@pytest.mark.parametrize("immutable", [False, True], ids=["legacy-sub", "immutable-sub"])
@pytest.mark.parametrize(
    ("cloud", "stack", "duty"), STACK_DUTIES, ids=[f"{c}-{s}-{d.lower()}" for c, s, d in STACK_DUTIES]
)
def test_each_identity_accepts_exactly_its_jobs(cloud: str, stack: str, duty: str, immutable: bool) -> None:
    ids = identities(cloud, stack, immutable)
    assert duty in ids, f"{cloud}/{stack} has no {duty} identity"
    assert violations(cloud, stack, duty, ids[duty], immutable=immutable) == []


def test_the_prod_stacks_have_no_preview_identity() -> None:
    for cloud in CLOUDS:
        assert "PREVIEW" not in identities(cloud, "prod", False)


def test_immutable_trusts_refuse_the_legacy_subject_and_a_recycled_name() -> None:
    job = next(j for j in jobs() if j.cloud == "aws" and j.duty == "INFRASTRUCTURE" and j.stack == "prod")
    for cloud in CLOUDS:
        j = replace(job, cloud=cloud)
        identity = identities(cloud, "prod", True)["INFRASTRUCTURE"]
        assert identity(token_for(j, cloud, "prod", immutable=True), cloud)
        assert not identity(token_for(j, cloud, "prod", immutable=False), cloud), cloud
        # Same names, new ids: the repository was deleted and its name registered again by someone else.
        recycled = token_for(j, cloud, "prod", immutable=True, repo_id="31337", owner_id="31338")
        assert not identity(recycled, cloud), cloud


def test_azure_branch_pin_is_the_environments_branch_policy() -> None:
    """Entra compares `sub` only, and an environment job's sub has no ref: the Azure deploy identities accept a run of
    another branch that names their environment. GitHub refuses such a run the environment when its deployment
    branch policy allows only main, which stacks/github sets for every deploy environment (checked here)."""
    job = next(j for j in jobs() if j.cloud == "azure" and j.duty == "ROLLOUT" and j.stack == "dev")
    identity = identities("azure", "dev", False)["ROLLOUT"]
    assert identity(
        token_for(replace(job, ref="refs/heads/feature"), "azure", "dev", immutable=False), "azure"
    )
    source = (ROOT / "components/ci_identity/github.py").read_text()
    assert "custom_branch_policies=True" in source and "branch_pattern=args.deploy_branch" in source
    assert "protected_branches=False" in source


def test_a_trust_widened_or_narrowed_by_one_statement_is_caught() -> None:
    """The check above fails on a one-statement change of the AWS infrastructure trust in either direction."""
    inv = inventory("aws", "dev", False)
    provider = inv["outputs"]["ci_identity_provider"]
    role = next(
        r for r in inv["resources"] if r["inputs"].get("name") == "tricloud-aws-dev-ci-infrastructure"
    )
    trust = json.loads(role["inputs"]["assumeRolePolicy"])

    def check(policy: dict[str, Any]) -> list[str]:
        identity: Identity = lambda t, c: c == "aws" and aws_accepts(policy, provider, t)  # noqa: E731
        return violations("aws", "dev", "INFRASTRUCTURE", identity, immutable=False)

    assert check(trust) == []
    host = GITHUB_ISSUER.removeprefix("https://")
    widened = copy.deepcopy(trust)
    del widened["Statement"][0]["Condition"]["StringLike"][f"{host}:ref"]
    del widened["Statement"][0]["Condition"]["StringLike"][f"{host}:job_workflow_ref"]
    assert any("another branch" in v for v in check(widened))
    extra = copy.deepcopy(trust)  # one more statement: any job of the repository
    extra["Statement"].append({
        "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {f"{host}:sub": "repo:tricloud/tricloud:*"}},
    })  # fmt: skip
    assert any(v.startswith("accepts") for v in check(extra))
    narrowed = copy.deepcopy(trust)
    narrowed["Statement"][0]["Condition"]["StringEquals"][f"{host}:sub"] = [
        "repo:tricloud/tricloud:environment:prod"
    ]
    assert any(v.startswith("refuses") for v in check(narrowed))
