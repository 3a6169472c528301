"""The CI infrastructure identity can run the deploy job's `pulumi up` of stacks/aws and needs nothing broader
(issue 10, Deliver 3: "the same for `pulumi up` of the AWS stack with the infrastructure identity").

The administrator's first apply (the deployer, as in docs/cicd.md's bootstrap) creates the stack with its CI
identities. The test then signs in as `<prefix>-ci-infrastructure` the way the deploy job does (GitHub's OIDC
provider as the federated principal, the `infrastructure` job's claims from tests/workflows/test_oidc_claims.py,
checked against the role's trust) and, signed as that session (`Emulator.sign_as`):

1. deploys a program without the stack's resources (every resource but the CI identities and the HTTP API and lake
   key, whose ids the rollout role's policy names): the engine deletes each, as `pulumi up` deletes what a program
   dropped;
2. deploys the whole program again: the engine creates each resource.

Every AWS call is recorded as IAM sees it: the action and resource ARN derived from botocore's service model and
the Service Authorization Reference (iam_requests.py), the request's tags, the resource's tags, PassRole. Asserted:
no denial (our evaluator's or moto's), every call allowed by the role's policies, every Allow statement needed by
some call, except those PROVIDER_ONLY lists with the reason and a source: the engine is not the Pulumi AWS provider
(it makes fewer calls; the table in docs/cicd.md). `test_one_statement_narrower_or_broader_is_caught` shows both
checks failing on a one-statement change.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from iam_eval import Statement, decide, statements
from offline import REGION, moto_process
from recorder import Arns, Recorder, Request, recording
from test_ci_permissions_rollout import deploy_job_claims, needed

from components.ci_identity import aws_permissions as perms
from tricloud.engine import Emulator, Engine, iam
from tricloud.engine.state import Entry, State

# Allow statements the engine's calls do not need and a real `pulumi up` does, each with why and a source: the
# Pulumi AWS provider (terraform-provider-aws underneath) reads more than the engine, and some AWS services act with
# the caller's rights where moto does nothing. docs/cicd.md has the same list as a table (tested below).
PROVIDER_ONLY: dict[str, tuple[str, str]] = {
    "HttpApiAccessLogs": (
        "API Gateway sets up an HTTP API stage's access logs as a CloudWatch Logs delivery with the caller's "
        "rights; moto's CreateStage stores the settings only",
        "API Gateway Developer Guide, 'Configure logging for HTTP APIs': permissions to enable logging",
    ),
    "KmsList": (
        "the provider reads an alias back by listing the account's aliases; the engine keeps the create's answer",
        "terraform-provider-aws internal/service/kms/alias.go (findAliasByName pages ListAliases)",
    ),
    "LogGroupsList": (
        "the provider reads a log group back with DescribeLogGroups (name prefix); the engine does not read back",
        "terraform-provider-aws internal/service/logs/group.go (findLogGroupByName)",
    ),
    "RetrainTriggerSecret": (
        "EventBridge keeps a connection's API key in a Secrets Manager secret it creates with the caller's "
        "rights; moto's CreateConnection makes none",
        "Amazon EventBridge User Guide, 'Connections': permissions for Secrets Manager",
    ),
    "ServiceLinkedRoles": (
        "EMR Serverless creates its service-linked role with the caller's rights on the account's first "
        "application; moto creates none",
        "Amazon EMR Serverless User Guide, 'Using service-linked roles for EMR Serverless'",
    ),
}

# Calls only the local engine makes, sent as the deployer (like its drift check) and not recorded, with why.
ENGINE_ONLY = {
    "s3:ListObjectVersions": "the local destroy empties a bucket first (demo data); with force_destroy off the "
    "provider calls DeleteBucket only, and AWS refuses a non-empty bucket",
    "s3:DeleteObject?VersionId": "the same emptying: each object version (moto's access logs land in the logs bucket)",
}

# Kept through the staged removal: the CI identities (the infrastructure role may not change them: an
# administrator's apply does) and the resources of these types whose generated id their policies name (the HTTP
# API's execution ARN, the lake key): re-created, they would get new ids, the rollout policy would change, and that
# change is the administrator's too (docs/cicd.md).
GENERATED_ID_TYPES = {"aws:apigatewayv2/api:Api", "aws:kms/key:Key"}


@dataclass
class Infra:
    emulator: Emulator
    role_arn: str
    changed_types: set[str]  # the inventory types this run deleted and created again
    session: iam.Session
    recorder: Recorder
    removed: dict[str, int]
    created: dict[str, int]
    denials: list[iam.Denial]


def kept(e: Entry, ci_names: set[str], ci_documents: str) -> bool:
    return not e.custom or e.name in ci_names or (e.type in GENERATED_ID_TYPES and e.id in ci_documents)


def resource_tags(emu: Emulator) -> Any:
    """The tags IAM reads as aws:ResourceTag for the kinds this stack scopes by tag, read as the deployer."""

    def tags(arn: str) -> dict[str, str]:
        service = arn.split(":")[2]
        try:
            if service == "sagemaker":
                got = emu.deployer_client("sagemaker").list_tags(ResourceArn=arn).get("Tags", [])
                return {t["Key"]: t["Value"] for t in got}
            if service == "kms":
                got = emu.deployer_client("kms").list_resource_tags(KeyId=arn).get("Tags", [])
                return {t["TagKey"]: t["TagValue"] for t in got}
            if (
                service == "emr-serverless"
            ):  # moto has no ListTagsForResource here: the application carries them
                app = arn.rsplit("/", 1)[-1]
                got = emu.deployer_client("emr-serverless").get_application(applicationId=app)["application"]
                return dict(got.get("tags") or {})
        except Exception:  # not created yet, or already deleted: no tags
            return {}
        return {}

    return tags


def lookup(emu: Emulator) -> Any:
    """iam_requests.LOOKUPS: the key an alias points to."""

    def find(op: str, params: Any) -> str | None:
        if op == "kms:DeleteAlias":
            for alias in emu.deployer_client("kms").list_aliases()["Aliases"]:
                if alias["AliasName"] == params["AliasName"]:
                    return str(alias.get("TargetKeyId"))
        return None

    return find


@pytest.fixture(scope="module")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    workdir = tmp_path_factory.mktemp("cicd-infra")
    state_path = workdir / "aws-dev.local.json"
    with moto_process() as url:
        emu = Emulator.start(REGION, endpoint=url)
        # The administrator's first `pulumi up`: everything, the CI identities included.
        outputs = Engine(emu, stack="dev", state_path=state_path).apply().outputs
        role_arn, provider = str(outputs["ci_infrastructure_identity"]), str(outputs["ci_identity_provider"])
        bootstrap = State.load(state_path).ordered()
        ci_names = {e.name for e in bootstrap if e.name.startswith("ci-")}
        # The role's policies do not change during the run: re-read at most once a second.
        reader = iam.Authorizer(emu.deployer_client("iam"), ttl_s=1.0)
        ci_roles = [
            str(outputs[k])
            for k in ("ci_preview_identity", "ci_infrastructure_identity", "ci_rollout_identity")
        ]
        ci_documents = json.dumps([reader.policies(arn) for arn in ci_roles])
        session = emu.assume_role(
            role_arn,
            {"Federated": provider},
            session_name="github-actions",
            context=deploy_job_claims("INFRASTRUCTURE"),
        )
        rec = Recorder(
            access_key=session.access_key_id,
            principal=session.session_arn,
            arns=Arns(REGION, role_arn.split(":")[4], resource_tags(emu), lookup(emu)),
            policy=lambda: statements(reader.policies(role_arn)),
            enforce=os.environ.get("TRICLOUD_CI_PERMISSIONS_DISCOVER") != "1",
            derived=True,
            engine_only=ENGINE_ONLY,
            as_deployer=emu.deployer_client,
        )
        mark, served = iam.DENIALS.mark(), len(iam.SERVED)
        emu.sign_as(session)
        try:
            with recording(rec):
                removed = Engine(emu, stack="dev", state_path=state_path).remove(
                    lambda e: not kept(e, ci_names, ci_documents)
                )
                created = Engine(emu, stack="dev", state_path=state_path).apply()
        finally:
            emu.sign_as(None)
        # What the emulator decided itself for the session (its stand-ins for calls moto lacks), if any.
        rec.absorb_served(list(iam.SERVED)[served:])
        if not rec.enforce:  # discovery: every distinct request, for writing the policy
            for line in sorted({str(c) for c in rec.calls}):
                print("CALL", line)
            print("UNMAPPED", sorted(set(rec.unmapped)))
            print("DENIED", sorted({str(c) for c in rec.denied}))
            print("MOTO", rec.moto_denied)
        changed = {e.type for e in bootstrap if not kept(e, ci_names, ci_documents)}
        yield Infra(
            emu, role_arn, changed, session, rec, removed.counts, created.counts, iam.DENIALS.since(mark)
        )


def policy_of(emu: Emulator, role_arn: str, ttl_s: float = 0) -> list[Statement]:
    """The role's policies as applied, read as the deployer (the emulator may be signing as the role)."""
    docs = iam.Authorizer(emu.deployer_client("iam"), ttl_s=ttl_s).policies(role_arn)
    return statements(docs, [role_arn.rsplit("/", 1)[-1]] * len(docs))


def other_modes(changed_types: set[str]) -> set[str]:
    """Grants for resource types this run did not change: the stack's other modes (EMR on EC2, endpoint
    autoscaling) and the CI identities it keeps. aws_permissions.GRANTS says what each covers."""
    return {g.sid for g in perms.GRANTS if not set(g.covers) & changed_types}


def not_needed(policy: list[Statement], calls: list[Request], skip: set[str]) -> list[str]:
    return sorted(
        sid
        for sid, lost in needed(policy, calls).items()
        if not lost and sid not in PROVIDER_ONLY and sid not in skip
    )


def test_the_deploy_job_applies_and_removes_the_stack_as_the_infrastructure_role(infra: Infra) -> None:
    r = infra.recorder
    assert r.unmapped == [], f"calls without an IAM reading (iam_requests.py): {sorted(set(r.unmapped))}"
    assert r.denied == [] and r.moto_denied == [], (sorted({str(d) for d in r.denied}), r.moto_denied)
    assert infra.denials == []
    # Both halves changed the stack: deletes, then the creates of the same resources.
    assert infra.removed.get("delete", 0) > 90  # 103 of the dev stack's 119 resources (the rest kept)
    assert infra.created.get("create", 0) == infra.removed["delete"]
    assert f":assumed-role/{infra.role_arn.rsplit('/', 1)[-1]}/github-actions" in infra.session.session_arn


def test_every_recorded_call_is_allowed_and_every_statement_is_needed(infra: Infra) -> None:
    policy = policy_of(infra.emulator, infra.role_arn)
    calls = infra.recorder.calls
    assert len(calls) > 100
    refused = [str(c) for c in calls if not decide(policy, c.action, c.resource, c.ctx()).allowed]
    assert refused == []
    skip = other_modes(infra.changed_types)
    # the dev stack's default modes: EMR Serverless, a serverless endpoint; the CI identities stay the admin's
    assert {"EmrClusters", "EndpointAutoscaling", "GithubOidcProvider"} <= skip and "Buckets" not in skip
    unused = not_needed(policy, calls, skip)
    assert unused == [], f"statements no call needs: {unused}"
    used = {sid for sid, lost in needed(policy, calls).items() if lost}
    assert not (used & set(PROVIDER_ONLY)), (
        f"listed as provider-only but exercised: {used & set(PROVIDER_ONLY)}"
    )
    assert set(PROVIDER_ONLY) <= {s.sid for s in policy}, "a provider-only statement no longer exists"


def test_the_provider_only_list_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cicd.md").read_text()
    table = doc.split("| statement | why the offline run does not use it |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \|", table, flags=re.M)
    assert sorted(rows) == sorted(PROVIDER_ONLY), (
        "docs/cicd.md's provider-only table and PROVIDER_ONLY differ"
    )


def test_one_statement_narrower_or_broader_is_caught(infra: Infra) -> None:
    emu, iam_client = infra.emulator, infra.emulator.deployer_client("iam")
    policy = policy_of(emu, infra.role_arn)
    calls = infra.recorder.calls
    # Narrower, offline: without the bucket grant the recorded creates of the lake's buckets are refused.
    narrow = [s for s in policy if s.sid != "Buckets"]
    refused = sorted({c.action for c in calls if not decide(narrow, c.action, c.resource, c.ctx()).allowed})
    assert "s3:CreateBucket" in refused and all(a.startswith("s3:") for a in refused), refused
    # Narrower, live: the same statement removed from the applied policy, the role's next bucket create is refused
    # with the action named.
    arn = next(
        a["PolicyArn"]
        for a in iam_client.list_attached_role_policies(RoleName=infra.role_arn.rsplit("/", 1)[-1])[
            "AttachedPolicies"
        ]
        if any(s.sid == "Buckets" for s in statements([current_document(iam_client, a["PolicyArn"])]))
    )
    original = current_document(iam_client, arn)
    live = Recorder(
        access_key=infra.session.access_key_id,
        principal=infra.session.session_arn,
        arns=infra.recorder.arns,
        policy=lambda: policy_of(emu, infra.role_arn),
        derived=True,
    )
    try:
        set_document(
            iam_client,
            arn,
            {**original, "Statement": [s for s in original["Statement"] if s.get("Sid") != "Buckets"]},
        )
        with recording(live), pytest.raises(ClientError, match="s3:CreateBucket"):
            emu.session_client("s3", infra.session).create_bucket(
                Bucket="tricloud-aws-dev-narrowed-123456789012-ap-south-1",
                CreateBucketConfiguration={"LocationConstraint": REGION},
            )
        assert [d.action for d in live.denied] == ["s3:CreateBucket"]
    finally:
        set_document(iam_client, arn, original)
    # Broader: one more statement that no call needs is named by the check.
    broad = policy + statements(
        [
            {
                "Statement": [
                    {
                        "Sid": "OneMoreBucketRight",
                        "Effect": "Allow",
                        "Action": ["s3:DeleteObject"],
                        "Resource": "arn:aws:s3:::tricloud-aws-dev-*/*",
                    }
                ]
            }
        ]
    )
    assert not_needed(broad, calls, other_modes(infra.changed_types)) == ["OneMoreBucketRight"]


def current_document(iam_client: Any, arn: str) -> dict[str, Any]:
    version = iam_client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    doc = iam_client.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return doc if isinstance(doc, dict) else json.loads(doc)


def set_document(iam_client: Any, arn: str, doc: dict[str, Any]) -> None:
    """A new default version (IAM keeps five: the oldest non-default one goes first)."""
    versions = iam_client.list_policy_versions(PolicyArn=arn)["Versions"]
    if len(versions) >= 5:
        oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        iam_client.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    iam_client.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc), SetAsDefault=True)
