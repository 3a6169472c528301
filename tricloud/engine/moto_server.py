"""moto with working request authentication: `python -m tricloud.engine.moto_server [-H 127.0.0.1] [-p 5000]`.

With IAM enforcement on, moto recomputes each request's SigV4 signature, and two bugs in that (moto 5.2) refuse
correctly signed requests:

1. A request without a body is verified as if its body were its parsed query parameters (or headers), so every
   body-less REST call (API Gateway, Lambda and EMR Serverless GETs and DELETEs) fails `SignatureDoesNotMatch`;
   the body is empty unless the request is a form (query-protocol services, whose form moto hands over parsed).
2. The signature is recomputed with botocore's signer, which leaves `user-agent` out of the signed headers; the AWS
   SDK for Java v1 (hadoop-aws, so Spark's s3a) signs it, so every s3a call that lists a bucket fails.

And two in authorization: the action is named by the SigV4 signing name (`monitoring:DescribeAlarms` where IAM
says `cloudwatch:DescribeAlarms`) and the operation (`apigateway:DeleteStage` where IAM says `apigateway:DELETE`),
and S3 DeleteObjects (the multi-object delete s3a's overwrite and commit use) is authorized as
s3:DeleteObject on the *bucket* ARN, which no policy scoped to objects allows; AWS authorizes it per object.

Outside S3, IAM and STS moto authorizes every request against resource `*` (it does not know the ARN), and an
Allow statement scoped to ARNs or with a Condition never matches `*`: every scoped grant is refused, which AWS would
allow. For those requests `patch()` checks the action only: an Allow whose Action matches allows, a Deny applies only
when it names every resource and has no condition. The resource and condition half is evaluated where the ARN is
known: the emulator's own services (`iam.Authorizer`) and the CI permission tests' recorder (tests/cicd).

`patch()` makes moto verify a signature the way SigV4 defines it (over the raw body and exactly the headers the
client lists as signed), authorizes DeleteObjects per key, and records each access denial (principal, action,
resource) in `iam.DENIALS`. The
in-process emulator applies it; run a separate moto server through this module so it does too. Denials are
printed to stderr (or appended to `--denials-log FILE`).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from tricloud.engine import iam

_patched = False
# SigV4 signing names that differ from the service's IAM action prefix.
IAM_PREFIX = {"monitoring": "cloudwatch"}


def _signed_as_listed(request: Any) -> Any:
    """The headers to sign: all the request holds (already cut to the client's SignedHeaders), none dropped."""
    from botocore.compat import HTTPHeaders

    out = HTTPHeaders()
    for name, value in request.headers.items():
        out[name.lower()] = value
    return out


def _deleted_keys(body: bytes) -> list[str]:
    import xmltodict

    objects = (xmltodict.parse(body, strip_whitespace=False).get("Delete") or {}).get("Object") or []
    return [str(o["Key"]) for o in (objects if isinstance(objects, list) else [objects])]


def patch() -> None:
    global _patched
    if _patched:
        return
    from botocore.awsrequest import AWSRequest
    from moto.iam.access_control import IAMRequestBase

    def create_aws_request(self: Any) -> AWSRequest:
        signed = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
        headers = self._create_headers_for_aws_request(signed, self._headers)
        form = "x-www-form-urlencoded" in str(
            headers.get("Content-Type") or headers.get("content-type") or ""
        )
        # moto hands form bodies over parsed (re-encoded here, as moto does); any other empty body is empty.
        body = self._body or (self._data if form else b"")
        request = AWSRequest(method=self._method, url=self._path, data=body, headers=headers)
        request.context["timestamp"] = next((v for k, v in headers.items() if k.lower() == "x-amz-date"), "")
        return request

    def calculate_signature(self: Any) -> str:
        auth = self._create_auth(self._access_key.create_credentials())
        auth.headers_to_sign = _signed_as_listed
        request = self._create_aws_request()
        canonical = auth.canonical_request(request)
        return str(auth.signature(auth.string_to_sign(request, canonical), request))

    original_check = IAMRequestBase.check_action_permitted

    def check_action_permitted(self: Any, resource: str) -> None:
        signing, _, operation = self._action.partition(":")
        if (
            signing in IAM_PREFIX
        ):  # moto names the action by the SigV4 signing name: CloudWatch's is `monitoring`
            self._action = f"{IAM_PREFIX[signing]}:{operation}"
        if (
            signing == "apigateway"
        ):  # API Gateway's IAM actions are HTTP verbs (apigateway:DELETE on /apis/...)
            self._action = f"apigateway:{self._method}"
        try:
            original_check(self, resource)
        except Exception as exc:
            if "AccessDenied" in type(exc).__name__:
                iam.DENIALS.add(iam.Denial(self._access_key.arn, self._action, resource, "moto", time.time()))
            raise

    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original_statement = IAMPolicyStatement.is_action_permitted

    def statement_permits(self: Any, action: str, resource: str = "*", *args: Any, **kwargs: Any) -> Any:
        st = self._statement
        if resource != "*" or not st.get("Resource") or "NotAction" in st:
            return original_statement(self, action, resource, *args, **kwargs)
        if not self._check_element_matches("Action", action):
            return PermissionResult.NEUTRAL
        if st.get("Effect") == "Allow":
            return PermissionResult.PERMITTED  # the resource is unknown here: the action decides
        certain = "*" in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
        return PermissionResult.DENIED if certain and not st.get("Condition") else PermissionResult.NEUTRAL

    from moto.s3.responses import S3Response

    original_s3 = S3Response._authenticate_and_authorize_s3_action

    def authorize_s3(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        if (
            key_name is None
            and bucket_name
            and self.data.get("Action") == "DeleteObject"
            and self.is_delete_keys()
        ):
            for key in _deleted_keys(self.body):
                original_s3(self, bucket_name=bucket_name, key_name=key)
            return
        original_s3(self, bucket_name=bucket_name, key_name=key_name)

    S3Response._authenticate_and_authorize_s3_action = authorize_s3  # type: ignore[method-assign]
    IAMRequestBase._create_aws_request = create_aws_request  # type: ignore[method-assign]
    IAMRequestBase._calculate_signature = calculate_signature  # type: ignore[method-assign]
    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]
    IAMPolicyStatement.is_action_permitted = statement_permits  # type: ignore[method-assign]
    _patched = True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tricloud.engine.moto_server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--denials-log", help="append access denials to this file (default: stderr)")
    args = parser.parse_args(argv)
    patch()
    if args.denials_log:
        from pathlib import Path

        iam.DENIALS.path = Path(args.denials_log)
    else:
        iam.DENIALS.stream = sys.stderr
    from moto.server import main as moto_main

    moto_main(["-H", args.host, "-p", str(args.port)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
