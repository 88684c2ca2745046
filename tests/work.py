"""Counting work instead of timing it, so that a test does not depend on the machine's speed.

`python_steps()` runs a function under `sys.settrace` and counts the trace events (Python
calls, lines and returns): the same input gives the same count on a fast machine, a slow one
and a busy one.  What it cannot see is work done inside C (copying, `bytes.find`); the tests
that use it bound memory with tracemalloc for that.  How fast the receive path is lives in
benchmarks/ (codec.py, fuzz_client.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Python steps the client's receive path may take for one APDU, hostile or not.  Decoding
#: costs about 2,400 steps for a plain event and about 1,000 more per element of a list
#: (a TransferredEvent with 32 connections, the most allowed, takes about 32,000).  A loop
#: that hangs, or work that grows faster than the input, goes far past it.
MAX_STEPS_PER_APDU = 40_000
#: Python steps in which a hostile APDU must be refused, the good event after it included.
#: The hostile APDUs of test_bounds take 2,500 at most; one decoded element by element
#: before it is refused (a list of 10,000 connections: millions of steps) goes far past it.
MAX_STEPS_TO_REFUSE = 10_000


def python_steps(fn: Callable[[], T]) -> tuple[T, int]:
    """`fn()` and the number of Python trace events it took."""
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = fn()
    finally:
        sys.settrace(previous)
    return result, count
