"""The PBX side: a call model that emits consistent CSTA events, and an asyncio server that
speaks the same wire protocol as a HiPath (the simulator behind `cstapopup sim`)."""

from .model import CallRecord, Notification, Step, SwitchError, SwitchModel, parse_device_list
from .scenarios import SCENARIOS
from .server import SwitchServer

__all__ = [
    "SCENARIOS",
    "CallRecord",
    "Notification",
    "Step",
    "SwitchError",
    "SwitchModel",
    "SwitchServer",
    "parse_device_list",
]
