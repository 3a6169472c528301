"""CiIdentity spec (cloud-neutral): three GitHub Actions identities per stack, split by duty.

- preview: read-only, signs in from pull-request jobs of `preview.yml` only (they run the pull request's code);
- infrastructure: what `pulumi up` of the stack needs, from the deploy job in `environment` only;
- rollout: training, registry, endpoint update and the smoke request, from the job in `rollout_environment` only.

Each cloud renders the same `Trust` natively (AWS trust policy conditions, Azure federated credentials, a GCP
attribute condition + per-subject bindings). No long-lived secret is ever created.

GitHub's OIDC `sub` claim (DESIGN.md 8): an environment job sends `repo:OWNER/REPO:environment:NAME` (no ref), a
pull-request job `repo:OWNER/REPO:pull_request`. Repositories created or renamed from mid-July 2026 (or opted in)
send the immutable form `repo:OWNER@OWNER_ID/REPO@REPO_ID:...`; `@` cannot occur in GitHub names, so it cannot be
squatted (the hyphen form of GitHub's April 2026 preview could, and is never accepted here).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from components.errors import in_range, matches, require
from components.spec_base import Args, Concept

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

OUTPUTS = ("ci_preview_identity", "ci_infrastructure_identity", "ci_rollout_identity", "ci_identity_provider")

# The workflow files whose jobs may sign in (job_workflow_ref names the file and the ref it ran from).
PREVIEW_WORKFLOW = "preview.yml"
DEPLOY_WORKFLOW = "deploy-stack.yml"  # the reusable workflow deploy.yml calls per cloud and stage
PULL_REQUEST_REF = "refs/pull/*/merge"  # the ref every pull_request run checks out


class Duty(enum.Enum):
    PREVIEW = "preview"
    INFRASTRUCTURE = "infrastructure"
    ROLLOUT = "rollout"


@dataclass(frozen=True)
class Trust:
    """What one identity accepts, as claims: every listed claim must match (a trailing * is a prefix match)."""

    duty: Duty
    subjects: tuple[str, ...]  # exact `sub` values
    workflow_refs: tuple[str, ...]  # `job_workflow_ref` patterns: the workflow file and the ref it ran from
    refs: tuple[str, ...]  # `ref` patterns
    repository: str  # owner/name
    repository_id: str | None  # numeric ids, pinned where the cloud can read them
    owner_id: str | None


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


_ENVIRONMENT = (r"[A-Za-z0-9_.-]{1,255}", "a GitHub environment name")


@dataclass(frozen=True, kw_only=True)
class CiIdentityArgs(Args):
    github_repository: str = "tricloud/tricloud"  # owner/name whose workflows may sign in
    github_owner_id: int | None = None  # with github_repository_id: trust the immutable sub (name@id)
    github_repository_id: int | None = None  # ids are never renamed or reused; names can be
    allowed_refs: tuple[str, ...] = ("refs/heads/main",)  # only runs of these refs may deploy (in the trust)
    environment: str = "dev"  # GitHub environment of the infrastructure job (pulumi up); prod has reviewers
    rollout_environment: str = "dev-model"  # GitHub environment of the model rollout job
    preview: bool = True  # a read-only identity for pull-request previews of this stack
    session_minutes: int = 180  # one sign-in covers training and the canary bake (AWS allows up to 720)
    aws: AwsCiOptions = field(default_factory=AwsCiOptions)

    def validate(self) -> None:
        matches("github_repository", self.github_repository, r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", "owner/name")
        require(
            (self.github_owner_id is None) == (self.github_repository_id is None),
            "github_repository_id" if self.github_repository_id is None else "github_owner_id",
            None,
            "set both github_owner_id and github_repository_id (the immutable subject names both) or neither",
        )
        for key in ("github_owner_id", "github_repository_id"):
            value = getattr(self, key)
            if value is not None:
                require(value > 0, key, value, "must be the positive numeric id GitHub shows in its API")
        require(len(self.allowed_refs) > 0, "allowed_refs", self.allowed_refs, "needs at least one ref")
        for ref in self.allowed_refs:
            matches(
                "allowed_refs",
                ref,
                r"refs/(heads|tags)/[A-Za-z0-9_./-]+\*?",
                "refs/heads/... or refs/tags/...",
            )
        matches("environment", self.environment, *_ENVIRONMENT)
        matches("rollout_environment", self.rollout_environment, *_ENVIRONMENT)
        require(
            self.rollout_environment != self.environment,
            "rollout_environment",
            self.rollout_environment,
            "must differ from environment: each identity trusts the subject of its own job only",
        )
        in_range("session_minutes", self.session_minutes, 60, 720)

    @property
    def owner(self) -> str:
        return self.github_repository.split("/", 1)[0]

    @property
    def repository_name(self) -> str:
        return self.github_repository.split("/", 1)[1]

    def subject_prefix(self) -> str:
        """`repo:OWNER/REPO`, or the immutable `repo:OWNER@ID/REPO@ID` when the ids are configured."""
        if self.github_owner_id is None:
            return f"repo:{self.github_repository}"
        return f"repo:{self.owner}@{self.github_owner_id}/{self.repository_name}@{self.github_repository_id}"

    def workflow_ref(self, workflow: str, ref: str) -> str:
        return f"{self.github_repository}/.github/workflows/{workflow}@{ref}"

    def trust(self, duty: Duty) -> Trust:
        ids = dict(
            repository=self.github_repository,
            repository_id=None if self.github_repository_id is None else str(self.github_repository_id),
            owner_id=None if self.github_owner_id is None else str(self.github_owner_id),
        )
        if duty is Duty.PREVIEW:
            return Trust(
                duty=duty,
                subjects=(f"{self.subject_prefix()}:pull_request",),
                workflow_refs=(self.workflow_ref(PREVIEW_WORKFLOW, PULL_REQUEST_REF),),
                refs=(PULL_REQUEST_REF,),
                **ids,
            )
        environment = self.environment if duty is Duty.INFRASTRUCTURE else self.rollout_environment
        return Trust(
            duty=duty,
            subjects=(f"{self.subject_prefix()}:environment:{environment}",),
            workflow_refs=tuple(self.workflow_ref(DEPLOY_WORKFLOW, ref) for ref in self.allowed_refs),
            refs=self.allowed_refs,
            **ids,
        )

    def trusts(self) -> tuple[Trust, ...]:
        duties = [Duty.INFRASTRUCTURE, Duty.ROLLOUT]
        if self.preview:
            duties.insert(0, Duty.PREVIEW)
        return tuple(self.trust(d) for d in duties)


def glob_match(pattern: str, value: str) -> bool:
    """GitHub-style ref glob used in `Trust`: `*` matches any run of characters (as AWS StringLike does)."""
    import fnmatch

    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]").replace("?", "[?]"))


class CiIdentity(Concept):
    name = "CiIdentity"
    outputs = OUTPUTS
