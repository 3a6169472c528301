"""CiIdentity spec (cloud-neutral).

AWS: IAM OIDC provider + deploy role. Azure: user-assigned identity + federated credential.
GCP: Workload Identity pool/provider + service account. No long-lived secret is ever created.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from components.errors import matches, require
from components.spec_base import Args, Concept

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

OUTPUTS = ("ci_role", "ci_identity_provider")


@dataclass(frozen=True, kw_only=True)
class AwsCiOptions(Args):
    existing_provider_arn: str | None = None  # an account has one GitHub OIDC provider; reuse it

    def validate(self) -> None:
        if self.existing_provider_arn is not None:
            matches(
                "existing_provider_arn",
                self.existing_provider_arn,
                r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com",
                "the ARN of the account's token.actions.githubusercontent.com OIDC provider",
            )


@dataclass(frozen=True, kw_only=True)
class CiIdentityArgs(Args):
    github_repository: str = "tricloud/tricloud"  # owner/name that may deploy
    allowed_refs: tuple[str, ...] = ("refs/heads/main",)  # only the main branch may deploy
    environment: str | None = "production"  # and only jobs in this GitHub environment (with its reviewers)
    aws: AwsCiOptions = field(default_factory=AwsCiOptions)

    def validate(self) -> None:
        matches("github_repository", self.github_repository, r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", "owner/name")
        require(len(self.allowed_refs) > 0, "allowed_refs", self.allowed_refs, "needs at least one ref")
        for ref in self.allowed_refs:
            matches(
                "allowed_refs", ref, r"refs/(heads|tags)/[A-Za-z0-9_./*-]+", "refs/heads/... or refs/tags/..."
            )
        if self.environment is not None:
            matches("environment", self.environment, r"[A-Za-z0-9_.-]{1,255}", "a GitHub environment name")

    def subjects(self) -> list[str]:
        """The OIDC `sub` claims allowed to assume the role (an environment job's sub names the environment)."""
        if self.environment:
            return [f"repo:{self.github_repository}:environment:{self.environment}"]
        return [f"repo:{self.github_repository}:ref:{ref}" for ref in self.allowed_refs]


class CiIdentity(Concept):
    name = "CiIdentity"
    outputs = OUTPUTS
