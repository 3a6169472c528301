"""Type token -> handler. Importing this package fills `HANDLERS` from every service module."""

from tricloud.engine.handlers import (  # noqa: F401
    analytics,
    api,
    identity,
    ml,
    monitoring,
    pipeline,
    query,
    registry,
    storage,
    warehouse,
)
from tricloud.engine.handlers.base import HANDLERS, Ctx, Handler, Replace, Resource

__all__ = ["HANDLERS", "Ctx", "Handler", "Replace", "Resource"]
