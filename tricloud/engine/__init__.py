"""Local engine: apply a stack program into emulators (moto, LocalStack) with state, re-apply and destroy."""

from tricloud.engine.core import Engine, Event, Result, StaleState, UnhandledResourceType
from tricloud.engine.emulator import Emulator, EmulatorError
from tricloud.engine.state import State, StateError

__all__ = [
    "Emulator",
    "EmulatorError",
    "Engine",
    "Event",
    "Result",
    "StaleState",
    "State",
    "StateError",
    "UnhandledResourceType",
]
