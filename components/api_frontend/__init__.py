"""ApiFrontend: a serverless function behind a managed API with throttling, access logs and caller auth."""

from components.api_frontend.spec import ApiAuth, ApiFrontendArgs

__all__ = ["ApiAuth", "ApiFrontendArgs"]
