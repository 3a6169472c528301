"""ApiFrontend spec (cloud-neutral).

AWS: Lambda + API Gateway HTTP API. Azure: Linux consumption Function App + API Management (consumption).
GCP: Cloud Functions gen2 + API Gateway. Routes: `POST /predict` (authorised) and `GET /health` (open).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from components.errors import LOG_RETENTION_DAYS, in_range, matches, one_of, require
from components.spec_base import Args, Concept


class ApiAuth(StrEnum):
    # The cloud's own caller authentication, needing no extra infrastructure: AWS IAM (SigV4-signed requests),
    # an API Management subscription key on Azure, an API key on GCP API Gateway.
    PLATFORM = "platform"
    JWT = "jwt"  # an OIDC identity provider's tokens (jwt_issuer, jwt_audience)


ROUTES = (("POST", "/predict"), ("GET", "/health"))
# The handler module of app/frontend per cloud: the same shared core behind each cloud's trigger.
HANDLERS = {
    "aws": "app.frontend.aws_lambda.handler",
    "azure": "app.frontend.azure_function",
    "gcp": "app.frontend.gcp_function",
}

OUTPUTS = ("api_url", "function_name")


@dataclass(frozen=True, kw_only=True)
class AwsApiOptions(Args):
    # Off by default: signing needs a versioned code bucket and an AWS Signer job per deploy, and the deploy
    # identity must be allowed to run it (docs/security.md). Signer itself is free.
    code_signing: bool = False  # Lambda runs only code signed by this stack's Signer profile (Enforce)


@dataclass(frozen=True, kw_only=True)
class ApiFrontendArgs(Args):
    auth: ApiAuth = ApiAuth.PLATFORM  # callers must authenticate: predictions cost money and reveal the model
    jwt_issuer: str | None = None  # https issuer URL; required when auth is jwt
    jwt_audience: tuple[str, ...] = ()  # accepted token audiences when auth is jwt
    memory_mb: int = 512  # the handler only validates and forwards; it needs little memory
    timeout_seconds: int = 10  # above the endpoint timeout so the fallback can still answer
    endpoint_timeout_ms: int = 2000  # then the handler answers with the rule-based fallback
    reserved_concurrency: int = 10  # caps spend and protects the endpoint from floods
    throttle_rate_per_second: int = 50  # steady-state requests/s before 429s
    throttle_burst: int = 100  # short bursts above the rate
    log_retention_days: int = 30  # access and function logs; unbounded logs cost forever
    tracing: bool = True  # X-Ray / App Insights / Cloud Trace spans per request
    fallback_enabled: bool = True  # an estimate with "fallback": true beats a 5xx for a learner's demo
    cors_origins: tuple[str, ...] = ()  # no browser origin may call the API unless listed
    aws: AwsApiOptions = field(default_factory=AwsApiOptions)

    def validate(self) -> None:
        one_of("auth", self.auth, tuple(ApiAuth))
        if self.auth is ApiAuth.JWT:
            require(
                self.jwt_issuer is not None, "jwt_issuer", self.jwt_issuer, "is required when auth is jwt"
            )
            matches("jwt_issuer", self.jwt_issuer or "", r"https://[^\s]+", "an https:// issuer URL")
            require(
                len(self.jwt_audience) > 0, "jwt_audience", self.jwt_audience, "needs at least one audience"
            )
        in_range("memory_mb", self.memory_mb, 128, 10240)
        in_range("timeout_seconds", self.timeout_seconds, 1, 29)  # API Gateway's integration limit is 29 s
        in_range("endpoint_timeout_ms", self.endpoint_timeout_ms, 100, 60_000)
        require(
            self.endpoint_timeout_ms < self.timeout_seconds * 1000,
            "endpoint_timeout_ms",
            self.endpoint_timeout_ms,
            f"must be below timeout_seconds ({self.timeout_seconds} s)",
        )
        in_range("reserved_concurrency", self.reserved_concurrency, 1, 1000)
        in_range("throttle_rate_per_second", self.throttle_rate_per_second, 1, 10_000)
        in_range("throttle_burst", self.throttle_burst, 1, 5_000)
        one_of("log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)
        for origin in self.cors_origins:
            matches("cors_origins", origin, r"https://[A-Za-z0-9.-]+(:\d+)?", "https origins (no wildcards)")


class ApiFrontend(Concept):
    name = "ApiFrontend"
    outputs = OUTPUTS
