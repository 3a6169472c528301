"""CiIdentity on AWS: three roles split by duty, trust pinned to GitHub's claims, the infrastructure role able to run
`pulumi up` of the stack as the inventory lists it, the preview role read-only, the rollout role limited to delivery.

The whole stack program runs under the recording mocks (tricloud.inventory), so the policies are the ones
`pulumi up` would create. Claim-by-claim acceptance of real jobs is in tests/workflows/test_oidc_claims.py.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from components.ci_identity import aws_permissions
from components.ci_identity.spec import CiIdentityArgs
from components.errors import InvalidArgs
from tricloud.inventory import build_inventory, stack_config

HOST = "token.actions.githubusercontent.com"
ROLE = "arn:aws:iam::123456789012:role/tricloud-aws-dev-ci-{}"
POLICY_LIMIT = 6144  # IAM's managed policy size (characters, whitespace excluded)
INLINE_LIMIT = 10240  # the aggregate of a role's inline policies


def inventory(**ci: Any) -> dict[str, Any]:
    """The dev stack's inventory with `tricloud:ci` keys overridden (built once per distinct override)."""
    return _inventory(json.dumps(ci, sort_keys=True))


@cache
def _inventory(ci_json: str) -> dict[str, Any]:
    values = stack_config("aws")
    values = {**values, "tricloud:ci": {**values["tricloud:ci"], **json.loads(ci_json)}}
    return build_inventory("aws", config=values)


def resources(inv: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in inv["resources"] if r["type"] == type_]


def role(inv: dict[str, Any], duty: str) -> dict[str, Any]:
    (r,) = [
        r for r in resources(inv, "aws:iam/role:Role") if r["inputs"]["name"] == f"tricloud-aws-dev-ci-{duty}"
    ]
    return r


def trust(inv: dict[str, Any], duty: str) -> dict[str, Any]:
    (st,) = json.loads(role(inv, duty)["inputs"]["assumeRolePolicy"])["Statement"]
    return st


def statements(inv: dict[str, Any], duty: str) -> list[dict[str, Any]]:
    """Every statement that applies to the role: its inline policy or, for infrastructure, its managed policies."""
    name = f"tricloud-aws-dev-ci-{duty}"
    docs = [json.loads(r["inputs"]["policy"]) for r in resources(inv, "aws:iam/rolePolicy:RolePolicy")
            if r["inputs"]["role"] == name]  # fmt: skip
    attached = {r["inputs"]["policyArn"].rpartition("/")[2] for r in resources(inv, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if r["inputs"]["role"] == name}  # fmt: skip
    docs += [json.loads(r["inputs"]["policy"]) for r in resources(inv, "aws:iam/policy:Policy")
             if r["inputs"]["name"] in attached]  # fmt: skip
    return [st for d in docs for st in d["Statement"]]


def actions(sts: list[dict[str, Any]], effect: str = "Allow") -> set[str]:
    return {a for st in sts if st["Effect"] == effect for a in st["Action"]}


def test_each_role_trusts_exactly_its_jobs_claims() -> None:
    inv = inventory()
    provider = inv["outputs"]["ci_identity_provider"]
    expected = {
        "preview": ("repo:tricloud/tricloud:pull_request", ["refs/pull/*/merge"], ".github/workflows/preview.yml@refs/pull/*/merge"),
        "infrastructure": ("repo:tricloud/tricloud:environment:dev", ["refs/heads/main"], ".github/workflows/deploy-stack.yml@refs/heads/main"),
        "rollout": ("repo:tricloud/tricloud:environment:dev-model", ["refs/heads/main"], ".github/workflows/deploy-stack.yml@refs/heads/main"),
    }  # fmt: skip
    for duty, (sub, refs, workflow) in expected.items():
        st = trust(inv, duty)
        assert st["Principal"] == {"Federated": provider} and st["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert st["Condition"] == {
            "StringEquals": {f"{HOST}:aud": "sts.amazonaws.com", f"{HOST}:sub": [sub]},
            "StringLike": {
                f"{HOST}:ref": refs,
                f"{HOST}:job_workflow_ref": [f"tricloud/tricloud/{workflow}"],
            },
        }, duty
        assert inv["outputs"][f"ci_{duty}_identity"] == ROLE.format(duty)


def test_immutable_ids_switch_the_subject_and_pin_the_repository_id() -> None:
    inv = inventory(github_owner_id=4242, github_repository_id=777)
    cond = trust(inv, "infrastructure")["Condition"]["StringEquals"]
    assert cond[f"{HOST}:sub"] == ["repo:tricloud@4242/tricloud@777:environment:dev"]
    assert cond[f"{HOST}:repository_id"] == "777"


def test_ids_come_in_pairs_and_environments_differ() -> None:
    with pytest.raises(InvalidArgs, match="github_owner_id"):
        CiIdentityArgs(github_repository_id=777)
    with pytest.raises(InvalidArgs, match="rollout_environment = 'dev'"):
        CiIdentityArgs(environment="dev", rollout_environment="dev")
    with pytest.raises(InvalidArgs, match="session_minutes = 30"):
        CiIdentityArgs(session_minutes=30)


def test_sessions_cover_the_deploy_jobs_and_preview_stays_short() -> None:
    inv = inventory()
    assert role(inv, "preview")["inputs"]["maxSessionDuration"] == 3600
    for duty in ("infrastructure", "rollout"):
        assert role(inv, duty)["inputs"]["maxSessionDuration"] == 180 * 60


# Every non-default mode at once: EMR on EC2, an instance endpoint with autoscaling, JWT auth, e-mail alerts.
ALL_MODES = {
    "tricloud:spark": {"mode": "cluster"},
    "tricloud:endpoint": {"mode": "instance"},
    "tricloud:api": {"auth": "jwt", "jwt_issuer": "https://login.example.com/", "jwt_audience": ["tricloud"]},
    "tricloud:observability": {"alert_email": "ops@example.com"},
}


@pytest.mark.parametrize("modes", [{}, ALL_MODES], ids=["defaults", "every-other-mode"])
def test_infrastructure_role_covers_every_resource_type_of_the_stack(modes: dict[str, Any]) -> None:
    """A resource type the stack gains without a grant fails here, before a real `pulumi up` gets AccessDenied."""
    inv = build_inventory("aws", config={**stack_config("aws"), **modes})
    # The CI identities themselves are an administrator's (CiIdentitiesAreAdminOnly below).
    types = {
        r["type"] for r in inv["resources"] if not r["type"].startswith("tricloud:") and r["parent"] != "ci"
    }
    assert len(types) > 30 and types - aws_permissions.covered_types() == set()


def test_infrastructure_policies_fit_iams_limits_even_with_long_names() -> None:
    inv = inventory()
    docs = [r["inputs"]["policy"] for r in resources(inv, "aws:iam/policy:Policy")]
    assert len(docs) >= 2
    for doc in docs:
        # a 40-character project-stack prefix instead of `tricloud-aws-dev` (16): names appear once per ARN
        longer = doc.replace("tricloud-aws-dev", "x" * 40).replace("tricloud_aws_dev", "x" * 40)
        assert len(re.sub(r"\s", "", longer)) <= POLICY_LIMIT
    inline = [r["inputs"]["policy"] for r in resources(inv, "aws:iam/rolePolicy:RolePolicy")
              if r["inputs"]["role"] in ("tricloud-aws-dev-ci-preview", "tricloud-aws-dev-ci-rollout")]  # fmt: skip
    assert all(
        len(re.sub(r"\s", "", d.replace("tricloud-aws-dev", "x" * 40))) <= INLINE_LIMIT for d in inline
    )


def test_generated_names_are_scoped_by_the_stacks_tags() -> None:
    sts = statements(inventory(), "infrastructure")
    create = next(s for s in sts if s.get("Sid") == "SageMakerModelsCreate")
    assert set(create["Action"]) == {
        "sagemaker:AddTags",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateModel",
    }
    assert create["Condition"] == {
        "StringEquals": {"aws:RequestTag/project": "tricloud-aws", "aws:RequestTag/stack": "dev"}
    }
    manage = next(s for s in sts if s.get("Sid") == "SageMakerModels")
    assert manage["Condition"] == {
        "StringEquals": {"aws:ResourceTag/project": "tricloud-aws", "aws:ResourceTag/stack": "dev"}
    }
    assert "sagemaker:DeleteModel" in manage["Action"]
    buckets = next(s for s in sts if s.get("Sid") == "Buckets")
    assert buckets["Resource"] == ["arn:aws:s3:::tricloud-aws-dev-*"]
    data = [s for s in sts if s.get("Sid") != "DriftJobCode"]
    assert not any(
        a.startswith("s3:") and "Object" in a for a in actions(data)
    )  # never reads or deletes data
    # ... except the drift job's code, which the stack uploads: that prefix only
    code = next(s for s in sts if s.get("Sid") == "DriftJobCode")
    assert code["Resource"] == ["arn:aws:s3:::tricloud-aws-dev-*/code/monitor/*"]


def test_infrastructure_role_cannot_change_the_ci_identities() -> None:
    sts = statements(inventory(), "infrastructure")
    (deny,) = [s for s in sts if s["Effect"] == "Deny"]
    assert {"iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteOpenIDConnectProvider"} <= set(
        deny["Action"]
    )
    assert deny["Resource"] == [
        "arn:aws:iam::123456789012:role/tricloud-aws-dev-ci-*",
        "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
    ]
    # ...while it may manage every other role of the stack.
    roles = next(s for s in sts if s.get("Sid") == "Roles")
    assert roles["Resource"] == ["arn:aws:iam::123456789012:role/tricloud-aws-dev-*"]


WRITE_VERBS = re.compile(r":(Create|Put|Delete|Update|Tag|Untag|Add|Remove|Attach|Detach|Set|Schedule|Enable|"
                         r"Stop|Start|Pass|Subscribe|Unsubscribe|Invoke|POST|PUT|PATCH|DELETE)")  # fmt: skip


def test_preview_role_only_reads() -> None:
    sts = statements(inventory(), "preview")
    writes = {a for a in actions(sts) if WRITE_VERBS.search(a)}
    assert writes == set()
    assert "ssm:GetParametersByPath" in actions(sts)  # the stack program reads the serving model version
    assert "apigateway:GET" in actions(sts) and "s3:GetBucketPolicy" not in actions(sts) - {"s3:GetBucket*"}


def test_rollout_role_does_delivery_and_nothing_else() -> None:
    inv = inventory()
    sts = statements(inv, "rollout")
    pairs = {(a, r) for s in sts for a in s["Action"] for r in s["Resource"]}
    invoke = {r for a, r in pairs if a == "execute-api:Invoke"}
    assert len(invoke) == 1 and next(iter(invoke)).endswith("/*/POST/predict")  # the smoke request, one route
    update = {r for a, r in pairs if a == "sagemaker:UpdateEndpoint"}
    # the endpoint, and the (tag-scoped) configuration it switches to
    assert update == {
        "arn:aws:sagemaker:ap-south-1:123456789012:endpoint/tricloud-aws-dev-endpoint",
        "arn:aws:sagemaker:ap-south-1:123456789012:endpoint-config/*",
    }
    passrole = next(s for s in sts if s["Action"] == ["iam:PassRole"])
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert set(passrole["Resource"]) == {
        "arn:aws:iam::123456789012:role/tricloud-aws-dev-sagemaker-training",
        "arn:aws:iam::123456789012:role/tricloud-aws-dev-sagemaker-endpoint",
    }
    registry = next(s for s in sts if s.get("Sid") == "RegisterAndApprove")
    assert "sagemaker:UpdateModelPackage" in registry["Action"]  # approval sets ModelApprovalStatus
    ssm = next(s for s in sts if s.get("Sid") == "ServingModelVersion")
    assert ssm["Resource"] == ["arn:aws:ssm:ap-south-1:123456789012:parameter/tricloud-aws/dev/*"]
    assert not any(
        a.startswith(("iam:Create", "iam:Put", "lambda:", "apigateway:", "kms:Create")) for a, _ in pairs
    )
    # Only actions IAM defines without resource-level permissions may name "*".
    unscoped = {"ecr:GetAuthorizationToken", "sagemaker:ListModelPackages"}
    assert {a for a, r in pairs if r == "*"} == unscoped


def test_an_existing_oidc_provider_is_reused() -> None:
    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    inv = inventory(aws={"existing_provider_arn": arn})
    assert resources(inv, "aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    assert trust(inv, "rollout")["Principal"] == {"Federated": arn}


def test_without_preview_no_preview_role_exists() -> None:
    inv = inventory(preview=False)
    names = {r["inputs"]["name"] for r in resources(inv, "aws:iam/role:Role")}
    assert "tricloud-aws-dev-ci-preview" not in names and "tricloud-aws-dev-ci-rollout" in names
    assert inv["outputs"]["ci_preview_identity"] == ""


def test_docs_list_every_grant_not_scoped_to_the_stack() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cicd.md").read_text()
    for sid, reason in aws_permissions.unscoped():
        assert f"| `{sid}` | {reason} |" in doc, sid


def test_the_rollout_session_must_outlast_training_and_the_canary() -> None:
    from tricloud.config import parse

    values = {**stack_config("aws"), "tricloud:training": {"max_runtime_minutes": 240}}
    with pytest.raises(InvalidArgs, match=r"tricloud:ci.session_minutes = 180: .* at least 275"):
        parse("aws", values)
    values["tricloud:ci"] = {**values["tricloud:ci"], "session_minutes": 275}
    assert parse("aws", values).ci.session_minutes == 275
