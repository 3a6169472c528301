"""The smoke test: real listings through the public API with the caller auth the stack requires.

A request passes only when it answers 200 with finite predictions, `"fallback": false`, the expected
`model_version` and a latency under the threshold; one failing request fails the smoke test (exit 3).
Auth per `tricloud:api.auth`: `platform` signs with SigV4 on AWS (botocore's signer, the caller's credentials),
sends the API Management subscription key on Azure and the API key on GCP (`TRICLOUD_API_KEY`); `jwt` sends
`TRICLOUD_API_TOKEN` as a bearer token on every cloud.
"""

from __future__ import annotations

import json
import math
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from components.api_frontend.spec import ApiAuth
from components.errors import InvalidArgs

API_KEY_ENV = "TRICLOUD_API_KEY"
TOKEN_ENV = "TRICLOUD_API_TOKEN"
KEY_HEADERS = {"azure": "Ocp-Apim-Subscription-Key", "gcp": "x-api-key"}
TIMEOUT_S = 30.0


def join_url(base: str, path: str) -> str:
    """`https://x/` + `predict` -> `https://x/predict` (never `//predict`, which API Gateway answers 404)."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def sample_listings(n: int, seed: int = 20240) -> list[dict[str, Any]]:
    """Valid listings in the request shape (the demo generator, no malformed rows, no price)."""
    from app.data.generator import generate
    from app.schema import FIELD_NAMES

    frame = generate(n, seed=seed, malformed_fraction=0.0)
    rows = frame[list(FIELD_NAMES)].to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows]


Signer = Callable[[str, bytes, dict[str, str]], dict[str, str]]


def sigv4_signer(region: str, credentials: Any) -> Signer:
    """Headers signed for API Gateway (`execute-api`) with botocore's SigV4 signer, as `curl --aws-sigv4` does."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    def sign(url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        req = AWSRequest(method="POST", url=url, data=body, headers=headers)
        SigV4Auth(credentials, "execute-api", region).add_auth(req)
        return dict(req.headers.items())

    return sign


def auth_headers(cloud: str, auth: ApiAuth, env: Mapping[str, str]) -> dict[str, str]:
    """Static auth headers for Azure/GCP keys and JWT; AWS `platform` signs each request instead."""
    if auth is ApiAuth.JWT:
        token = env.get(TOKEN_ENV)
        if not token:
            raise InvalidArgs(
                TOKEN_ENV, None, "tricloud:api.auth is jwt: set it to a token of the configured issuer"
            )
        return {"Authorization": f"Bearer {token}"}
    if cloud == "aws":
        return {}
    key = env.get(API_KEY_ENV)
    if not key:
        what = (
            "API Management subscription key"
            if cloud == "azure"
            else "API key (projects.ApiKey of the stack)"
        )
        raise InvalidArgs(API_KEY_ENV, None, f"tricloud:api.auth is platform: set it to the {what}")
    return {KEY_HEADERS[cloud]: key}


@dataclass
class SmokeResult:
    url: str
    requests: int
    passed: int
    failures: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and self.passed == self.requests

    def numbers(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            **{k: v for k, v in asdict(self).items() if k != "latencies_ms"},
            "p50_ms": round(statistics.median(lat), 1) if lat else None,
            "max_ms": round(lat[-1], 1) if lat else None,
        }


def check_answer(status: int, body: Any, expect_version: str | None) -> str | None:
    """Why one answer fails the smoke test, or None."""
    if status != 200:
        return f"HTTP {status}: {str(body)[:200]}"
    if not isinstance(body, dict):
        return f"answer is not a JSON object: {str(body)[:200]}"
    if body.get("fallback") is not False:
        return f'"fallback": {json.dumps(body.get("fallback"))} (the model endpoint did not answer)'
    preds = body.get("predictions")
    if (
        not isinstance(preds, list)
        or not preds
        or not all(
            isinstance(p, int | float) and not isinstance(p, bool) and math.isfinite(p) and p > 0
            for p in preds
        )
    ):
        return f"predictions are not positive finite prices: {preds!r}"
    if expect_version is not None and body.get("model_version") != expect_version:
        return f"model_version {body.get('model_version')!r}, expected {expect_version!r}"
    return None


def run_smoke(
    api_url: str,
    *,
    requests: int,
    max_latency_ms: float,
    expect_version: str | None,
    headers: Mapping[str, str] | None = None,
    signer: Signer | None = None,
    report: Callable[[str], None] = lambda line: None,
) -> SmokeResult:
    url = join_url(api_url, "predict")
    result = SmokeResult(url=url, requests=requests, passed=0)
    for i, listing in enumerate(sample_listings(requests)):
        body = json.dumps({"instances": [listing]}).encode()
        hdrs = {"content-type": "application/json", **(headers or {})}
        if signer is not None:
            hdrs = signer(url, body, hdrs)
        started = time.perf_counter()
        status, answer = _post(url, body, hdrs)
        ms = (time.perf_counter() - started) * 1000
        result.latencies_ms.append(ms)
        if isinstance(answer, dict) and answer.get("model_version"):
            result.versions.append(str(answer["model_version"]))
        problem = check_answer(status, answer, expect_version)
        if problem is None and ms > max_latency_ms:
            problem = f"latency {ms:.0f} ms is above {max_latency_ms:.0f} ms"
        if problem:
            result.failures.append(f"request {i + 1}: {problem}")
        else:
            result.passed += 1
        report(f"request {i + 1}/{requests}: {status} in {ms:.0f} ms{' - ' + problem if problem else ''}")
    return result


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        return 0, f"no answer: {exc}"
    try:
        return status, json.loads(raw or b"null")
    except json.JSONDecodeError:
        return status, raw.decode(errors="replace")
