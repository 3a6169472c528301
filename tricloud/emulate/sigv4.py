"""Verify AWS Signature Version 4 on a request the local gateway received, with botocore's own signer.

This is what API Gateway does for an `AWS_IAM` route: recompute the signature from the signed headers, the body and
the caller's secret key, and refuse the request on any mismatch, unknown key or stale timestamp.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tricloud.engine.iam import Session

MAX_SKEW = dt.timedelta(minutes=5)  # AWS rejects signatures more than 5 minutes off
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<sig>[0-9a-f]+)"
)


@dataclass(frozen=True)
class Caller:
    access_key: str


class SignatureError(Exception):
    """403 with the message AWS gives for the same fault; `code` is the error type AWS APIs name it by."""

    def __init__(self, message: str, code: str = "InvalidSignatureException") -> None:
        super().__init__(message)
        self.code = code


class KeyStore(dict[str, str]):
    """Access key id -> secret, plus the session token each temporary key must present and the role session it
    belongs to (whose policies decide what it may do); a key without a session is the account's root."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, str] = {}
        self.sessions: dict[str, Session] = {}

    def add(
        self, key_id: str, secret: str, token: str | None = None, *, session: Session | None = None
    ) -> None:
        self[key_id] = secret
        if token:
            self.tokens[key_id] = token
        if session is not None:
            self.sessions[key_id] = session


def verify(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    keys: Mapping[str, str],
    region: str,
    service: str = "execute-api",
    now: dt.datetime | None = None,
) -> Caller:
    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower.get("authorization", "")
    m = _AUTH.fullmatch(auth.strip())
    if not m:
        if not auth:
            raise SignatureError(
                "Forbidden" if service == "execute-api" else "Missing Authentication Token",
                "MissingAuthenticationTokenException",
            )
        raise SignatureError(
            "Authorization header requires 'Credential' parameter.", "IncompleteSignatureException"
        )
    key_id, date, cred_region, cred_service, term = (m["cred"].split("/") + [""] * 5)[:5]
    if key_id not in keys:
        raise SignatureError(
            "The security token included in the request is invalid.", "UnrecognizedClientException"
        )
    token = getattr(keys, "tokens", {}).get(key_id)
    if token is not None and not hmac.compare_digest(lower.get("x-amz-security-token", ""), token):
        raise SignatureError(
            "The security token included in the request is invalid.", "UnrecognizedClientException"
        )
    if cred_region != region or cred_service != service or term != "aws4_request":
        raise SignatureError(
            f"Credential should be scoped to a valid region and service ({region}/{service}).",
            "InvalidSignatureException",
        )
    amz_date = lower.get("x-amz-date", "")
    try:
        stamp = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise SignatureError(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            "IncompleteSignatureException",
        ) from None
    now = now or dt.datetime.now(dt.UTC)
    if abs(now - stamp) > MAX_SKEW or not amz_date.startswith(date):
        raise SignatureError("Signature expired: the request's X-Amz-Date is not within 5 minutes of now.")
    signed = m["signed"].split(";")
    missing = [h for h in signed if h not in lower]
    if missing:
        raise SignatureError(f"Signed header(s) {missing} are missing from the request.")
    request = AWSRequest(method=method, url=url, data=body, headers={h: lower[h] for h in signed})
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(key_id, keys[key_id]), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, m["sig"]):
        raise SignatureError(
            "The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method."
        )
    return Caller(key_id)
