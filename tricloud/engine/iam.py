"""IAM in the emulator: who signs each call, how a workload gets its role's session, and a record of every denial.

With enforcement on (the default), moto authenticates and authorizes every request (`INITIAL_NO_AUTH_ACTION_COUNT`
= 0), as AWS does. moto has no account root, so the engine applies the stack as an IAM user, the *deployer*
(`tricloud-deployer`, an administrator like the learner who runs `pulumi up`), created in moto's no-auth window
(`/moto-api/reset-auth`) before enforcement starts. Workloads never use the deployer's keys: the emulator plays the
AWS service that assumes a workload's role (Lambda, SageMaker, EMR), after checking that the role's trust policy
names that service, and hands the workload the session (`Emulator.assume_role`).

moto evaluates identity policies itself. The calls the emulator serves itself (sagemaker-runtime InvokeEndpoint,
Lambda's log delivery and its environment decryption) are decided here with moto's own policy evaluator, against
the real resource ARN, so both halves read a policy the same way. Every denial, moto's or ours, is recorded with
the principal, the action and the resource (`DENIALS`), like a CloudTrail `AccessDenied` event.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

DEPLOYER = "tricloud-deployer"
DEPLOYER_PATH = "/tricloud/"
# The deployer applies any resource the stack declares, as the administrator who runs `pulumi up` on AWS.
# moto asks for resource "*" outside S3, IAM and STS, so a narrower deployer would need "*" resources anyway.
DEPLOYER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "ApplyTheStack", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# Where the deployer's key is kept between runs against the same moto server: IAM shows a secret only once, and a
# second run must not rotate the key a first (still running) one signs with. Emulator-only, loopback-only.
KEY_TAG, SECRET_TAG = "tricloud:access-key-id", "tricloud:secret-access-key"

SPARK_SERVICE = {"serverless": "emr-serverless.amazonaws.com", "cluster": "ec2.amazonaws.com"}
SAGEMAKER = "sagemaker.amazonaws.com"
LAMBDA = "lambda.amazonaws.com"


class IamError(Exception):
    """A principal may not assume a role, or the emulator's identity could not be set up."""


@dataclass(frozen=True)
class Denial:
    principal: str  # the caller's ARN (an assumed-role session or an IAM user)
    action: str
    resource: str
    source: str  # moto | runtime shim | lambda
    at: float

    def __str__(self) -> str:
        return f"{self.principal} is not authorized to perform {self.action} on {self.resource}"


class DenialLog:
    """Every access denial of this process, in order; appended to a file when one is set (`tricloud logs aws`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Denial] = []
        self.path: Path | None = None
        self.stream: TextIO | None = None

    def add(self, denial: Denial) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(denial.at))
        line = f"{stamp} AccessDenied ({denial.source}) {denial}\n"
        with self._lock:
            self._items.append(denial)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(line)
            if self.stream is not None:
                self.stream.write(line)
                self.stream.flush()

    def mark(self) -> int:
        with self._lock:
            return len(self._items)

    def since(self, mark: int) -> list[Denial]:
        with self._lock:
            return list(self._items[mark:])


DENIALS = DenialLog()  # process-wide, as moto's backends and its authorization code are
# (principal, action, resource) of the calls the emulator served itself and allowed, newest last: what a test that
# records a principal's calls cannot see on the wire (bounded: a long `--serve` run must not grow without end).
SERVED: deque[tuple[str, str, str]] = deque(maxlen=10_000)


# --- trust policies -----------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _condition_holds(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """StringEquals/StringLike/ArnEquals/ArnLike (and their IfExists forms); a key absent from `context` fails,
    as on AWS. Any other operator is refused rather than assumed to hold."""
    for op, pairs in conditions.items():
        base = op.removesuffix("IfExists")
        for key, expected in pairs.items():
            actual = context.get(key)
            if actual is None:
                if op.endswith("IfExists"):
                    continue
                return False
            patterns = [str(v) for v in _as_list(expected)]
            if base in ("StringEquals", "ArnEquals"):
                ok = actual in patterns
            elif base in ("StringLike", "ArnLike"):
                ok = any(fnmatch.fnmatchcase(actual, p) for p in patterns)
            else:
                raise IamError(f"trust policy condition {op!r} on {key!r}: not evaluated by the emulator")
            if not ok:
                return False
    return True


def trust_allows(
    document: Mapping[str, Any] | str,
    principal: Mapping[str, str],
    *,
    action: str = "sts:AssumeRole",
    context: Mapping[str, str] | None = None,
) -> bool:
    """Whether a trust policy lets `principal` (e.g. {"Service": "lambda.amazonaws.com"}) perform `action`.

    moto cannot decide this for service or federated principals (its trust check only knows IAM principals), so
    the emulator, which plays the service, decides it here the way AWS documents it: an explicit Deny wins, then
    any Allow whose principal, action and conditions match."""
    doc = json.loads(document) if isinstance(document, str) else document
    ((kind, who),) = principal.items()
    allowed = False
    for st in _as_list(doc.get("Statement")):
        names = (
            _as_list((st.get("Principal") or {}).get(kind)) if isinstance(st.get("Principal"), dict) else []
        )
        if st.get("Principal") == "*":
            names = ["*"]
        if who not in names and "*" not in names:
            continue
        if not any(fnmatch.fnmatchcase(action, a) for a in _as_list(st.get("Action"))):
            continue
        if not _condition_holds(st.get("Condition") or {}, context or {}):
            continue
        if st.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


# --- identity policies, evaluated the way moto does ----------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """An assumed-role session: the credentials a workload gets and the ARNs policy decisions are made for."""

    role_arn: str
    session_arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


class Authorizer:
    """Allow or deny an action of a role on a resource with moto's `IAMPolicy` over the role's inline and attached
    policies, as the emulator's own services need (moto's services never see these calls). Policies are read from
    the emulator and kept `ttl_s` seconds: IAM changes take a moment to reach AWS services too."""

    def __init__(self, iam_client: Any, *, ttl_s: float = 2.0, denials: DenialLog = DENIALS) -> None:
        self.iam, self.ttl_s, self.denials = iam_client, ttl_s, denials
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, list[str]]] = {}

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def policies(self, role_arn: str) -> list[str]:
        with self._lock:
            hit = self._cache.get(role_arn)
            if hit and time.monotonic() - hit[0] < self.ttl_s:
                return hit[1]
        name = role_arn.rsplit("/", 1)[-1]
        docs: list[str] = []
        for pname in self.iam.list_role_policies(RoleName=name)["PolicyNames"]:
            doc = self.iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"]
            docs.append(doc if isinstance(doc, str) else json.dumps(doc))
        for att in self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            pol = self.iam.get_policy(PolicyArn=att["PolicyArn"])["Policy"]
            ver = self.iam.get_policy_version(PolicyArn=att["PolicyArn"], VersionId=pol["DefaultVersionId"])
            doc = ver["PolicyVersion"]["Document"]
            docs.append(doc if isinstance(doc, str) else json.dumps(doc))
        with self._lock:
            self._cache[role_arn] = (time.monotonic(), docs)
        return docs

    def allowed(self, role_arn: str, action: str, resource: str) -> bool:
        from moto.iam.access_control import IAMPolicy, PermissionResult

        permitted = False
        for doc in self.policies(role_arn):
            result = IAMPolicy(doc).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return False
            permitted = permitted or result == PermissionResult.PERMITTED
        return permitted

    def check(self, session: Session, action: str, resource: str, *, source: str) -> Denial | None:
        """None when allowed; otherwise the denial, recorded."""
        if self.allowed(session.role_arn, action, resource):
            SERVED.append((session.session_arn, action, resource))
            return None
        denial = Denial(session.session_arn, action, resource, source, time.time())
        self.denials.add(denial)
        return denial
