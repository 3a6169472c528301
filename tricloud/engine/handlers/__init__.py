"""Type token -> handler. Importing this package fills `HANDLERS` from every service module."""

from tricloud.engine.handlers import analytics, api, identity, ml, monitoring, registry, storage  # noqa: F401
from tricloud.engine.handlers.base import HANDLERS, Ctx, Handler, Replace, Resource

__all__ = ["HANDLERS", "Ctx", "Handler", "Replace", "Resource"]
