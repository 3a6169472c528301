"""Observability: alerts, dashboards and log retention for the endpoint and the API."""

from components.observability.spec import ObservabilityArgs

__all__ = ["ObservabilityArgs"]
