"""CiIdentity: keyless deploys from GitHub Actions through OIDC federation."""

from components.ci_identity.spec import CiIdentityArgs

__all__ = ["CiIdentityArgs"]
