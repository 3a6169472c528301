"""The policy pack (policy/) and the catalogue's metadata: what `pulumi preview --policy-pack policy` loads.

`PolicyPack(...)` starts a gRPC server and blocks, so the pack's __main__.py is run with PolicyPack replaced by a
recorder: the test sees exactly what the pack would serve.
"""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from components.errors import InvalidArgs
from tricloud.policy.catalog import catalogue, markdown_table
from tricloud.policy.model import ADVISORY, CLOUDS, MANDATORY
from tricloud.policy.pack import Exceptions, policy_for
from tricloud.policy.rules import all_rules, rule
from tricloud.policy.spec import PolicyException

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policy"
REFERENCES = json.loads((Path(__file__).parent / "references.json").read_text())


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run policy/__main__.py with a PolicyPack that records its arguments instead of serving them."""
    seen: dict[str, Any] = {}

    class RecordingPack:
        def __init__(self, **kwargs: Any) -> None:
            seen.update(kwargs)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", RecordingPack)
    runpy.run_path(str(PACK / "__main__.py"), run_name="__main__")
    return seen


def test_pack_registers_every_policy_of_the_catalogue(served: dict[str, Any]) -> None:
    assert served["name"] == "tricloud"
    names = [p.name for p in served["policies"]]
    assert names == [r.id for r in all_rules()]
    assert len(names) == len(set(names)) >= 40
    for p in served["policies"]:
        r = rule(p.name)
        assert isinstance(p, ResourceValidationPolicy if r.kind == "resource" else StackValidationPolicy)
        expected = EnforcementLevel.MANDATORY if r.level == MANDATORY else EnforcementLevel.ADVISORY
        assert p.enforcement_level is expected, p.name
        assert p.remediation_steps == r.remediation and p.description == r.title
        assert set(r.checkov) <= set(p.tags or []), p.name


def test_pack_folder_has_what_pulumi_needs() -> None:
    spec = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert spec["runtime"]["name"] == "python"
    assert (PACK / spec["runtime"]["options"]["virtualenv"]).resolve() == ROOT / ".venv"
    assert "..[policy]" in (PACK / "requirements.txt").read_text()


def test_every_cloud_covers_the_issue_categories() -> None:
    """Encryption, public access, TLS, logging, key rotation, network, IAM, functions, secrets, tags per cloud."""
    categories = {
        "encryption": r"cmk|cmek|encryption",
        "public access": r"public|private|acls",
        "TLS": r"tls|https",
        "logging": r"logging|logs|retention",
        "key rotation": r"rotation",
        "network": r"network|firewall|flow-logs|ingress|public-ip|private",
        "IAM": r"iam|rbac|trust|wif",
        "functions and endpoints": r"lambda|function|endpoint",
        "secrets": r"secrets",
        "tags": r"tags|labels",
    }
    for cloud in CLOUDS:
        ids = " ".join(r.id for r in all_rules(cloud))
        missing = [c for c, pattern in categories.items() if not re.search(pattern, ids)]
        assert not missing, f"{cloud} has no policy for {missing}"


def test_every_rule_is_documented_and_cites_only_confirmed_references() -> None:
    for r in all_rules():
        assert r.level in (MANDATORY, ADVISORY)
        assert r.title and r.remediation.endswith((".", ")")), r.id
        for checkov_id in r.checkov:
            assert checkov_id in REFERENCES["checkov"], f"{r.id}: {checkov_id} is not in checkov's index"
        if r.cis:
            m = re.fullmatch(r"(.+? \d+\.\d+\.\d+) (.+)", r.cis)
            assert m, r.cis
            controls = REFERENCES["cis"][m.group(1)]
            for control in m.group(2).split(", "):
                assert control in controls, (
                    f"{r.id}: {m.group(1)} {control} is not a control of that benchmark"
                )


def test_security_doc_lists_the_catalogue() -> None:
    text = (ROOT / "docs" / "security.md").read_text()
    start = text.index("<!-- policies:start -->\n") + len("<!-- policies:start -->\n")
    end = text.index("<!-- policies:end -->")
    assert text[start:end] == markdown_table(catalogue()), (
        "docs/security.md policy table is stale: regenerate it with `tricloud policy list --markdown`"
    )


def _args(type_: str, name: str, props: dict[str, Any]) -> ResourceValidationArgs:
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    return ResourceValidationArgs(type_, unknown_checking_proxy(props), f"urn::{name}", name, opts, None)


def test_unknown_value_in_a_preview_is_reported_as_cannot_run_not_as_a_violation() -> None:
    """During `pulumi preview` of new resources some inputs are unknown: the SDK turns the UnknownValueError into
    an advisory "can't run during preview" diagnostic. A rule must raise it, never report a false finding."""
    policy = policy_for(rule("aws-logs-cmk"), lambda: Exceptions())
    reported: list[str] = []
    with pytest.raises(UnknownValueError):
        policy.validate(
            _args("aws:cloudwatch/logGroup:LogGroup", "logs", {"kmsKeyId": UNKNOWN_STRING_VALUE}),
            lambda m, u: reported.append(m),
        )
    assert reported == []


def test_a_prefix_exception_excuses_only_the_names_that_start_with_it() -> None:
    route = rule("aws-apigw-route-authorization")
    excused: list[Any] = []
    exceptions = Exceptions(
        [PolicyException(policy=route.id, resource="ci-infra-*", reason="the deploy identity needs it all")]
    )
    policy = policy_for(route, lambda: exceptions, excused.append)
    reported: list[str] = []
    for name in ("ci-infra-a", "ci-infra-b", "ci-infrax", "ci-preview-a"):
        props = {"routeKey": f"GET /{name}", "authorizationType": "NONE"}
        policy.validate(_args("aws:apigatewayv2/route:Route", name, props), lambda m, u: reported.append(m))
    assert [e.resource for e in excused] == ["ci-infra-a", "ci-infra-b"]
    assert reported == [
        "GET /ci-infrax is open to anonymous callers",
        "GET /ci-preview-a is open to anonymous callers",
    ]


@pytest.mark.parametrize("resource", ["*", "ci-*-x", "a*b*"])
def test_a_wildcard_other_than_one_trailing_star_is_refused(resource: str) -> None:
    with pytest.raises(InvalidArgs, match="may end with one"):
        PolicyException(policy="aws-apigw-route-authorization", resource=resource, reason="x" * 30).validate()


def test_an_exception_excuses_only_its_policy_resource_and_item() -> None:
    route = rule("aws-apigw-route-authorization")
    excused: list[Any] = []
    exceptions = Exceptions(
        [PolicyException(policy=route.id, resource="health", reason="open by design for liveness probes")]
    )
    policy = policy_for(route, lambda: exceptions, excused.append)
    reported: list[str] = []
    for name in ("health", "predict"):
        props = {"routeKey": f"GET /{name}", "authorizationType": "NONE"}
        policy.validate(_args("aws:apigatewayv2/route:Route", name, props), lambda m, u: reported.append(m))
    assert reported == ["GET /predict is open to anonymous callers"]
    assert [(e.resource, e.exception.reason) for e in excused] == [
        ("health", "open by design for liveness probes")
    ]

    gateway = rule("gcp-api-gateway-auth")
    item_only = Exceptions(
        [
            PolicyException(
                policy=gateway.id, resource="cfg", item="GET /health", reason="liveness without a key"
            )
        ]
    )
    spec = {"paths": {"/health": {"get": {}}, "/predict": {"post": {}}}}  # no security anywhere
    import base64

    contents = base64.b64encode(json.dumps(spec).encode()).decode()
    reported.clear()
    policy_for(gateway, lambda: item_only).validate(
        _args(
            "gcp:apigateway/apiConfig:ApiConfig",
            "cfg",
            {"openapiDocuments": [{"document": {"contents": contents}}]},
        ),
        lambda m, u: reported.append(m),
    )
    assert reported == ["POST /predict is open to anonymous callers"]
