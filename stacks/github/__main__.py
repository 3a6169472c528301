"""tricloud's GitHub settings: environments, reviewers, branch policies, OIDC subject template, workflow variables.

Optional stack, run by a repository administrator (a GitHub token with admin rights on the repository and a Pulumi
token that can read the cloud stacks): `cd stacks/github && pulumi up`. The identities come from the cloud stacks'
outputs (StackReference), so re-running it after a cloud `pulumi up` keeps the variables current.
"""

import pulumi

from components.ci_identity.github import CloudIdentities, GithubDeploySettings, GithubSettingsArgs
from tricloud.config import build_args

config = pulumi.Config("tricloud")
args = build_args(GithubSettingsArgs, config.get_object("github") or {}, "tricloud:github")
stacks: dict[str, str] = config.get_object("stacks") or {}  # cloud -> "<org>/<project>" of its stacks
azure: dict[str, dict[str, str]] = config.get_object("azure") or {}  # stage -> tenant_id, subscription_id

identities: dict[tuple[str, str], CloudIdentities] = {}
for cloud, project in sorted(stacks.items()):
    for stage in args.stages:
        ref = pulumi.StackReference(f"{project}/{stage}")
        settings: dict[str, pulumi.Input[str]] = {}
        if cloud == "aws":
            settings["AWS_REGION"] = ref.require_output("region")
        if cloud == "azure":
            settings["AZURE_TENANT_ID"] = azure[stage]["tenant_id"]
            settings["AZURE_SUBSCRIPTION_ID"] = azure[stage]["subscription_id"]
        identities[(cloud, stage)] = CloudIdentities(
            preview=ref.get_output("ci_preview_identity"),
            infrastructure=ref.require_output("ci_infrastructure_identity"),
            rollout=ref.require_output("ci_rollout_identity"),
            provider=ref.require_output("ci_identity_provider"),
            settings=settings,
        )

settings = GithubDeploySettings("github", args, identities=identities)
pulumi.export("environments", sorted(settings.environments))
