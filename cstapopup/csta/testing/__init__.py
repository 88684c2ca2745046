"""Test and benchmark tools for the CSTA library: a fault-injecting TCP proxy to put between a
client and a PBX (or the simulator), so that the client's handling of a hostile network can be
tested and soaked."""

from .faultproxy import (
    BOTH,
    DOWN,
    FAULT_KINDS,
    UP,
    DirectionFaults,
    FaultAction,
    FaultCounters,
    FaultProxy,
    FaultSchedule,
    FrameTracker,
)

__all__ = [
    "BOTH",
    "DOWN",
    "FAULT_KINDS",
    "UP",
    "DirectionFaults",
    "FaultAction",
    "FaultCounters",
    "FaultProxy",
    "FaultSchedule",
    "FrameTracker",
]
