"""The reconnect policy: capped exponential delays with jitter, the one every link uses."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

#: No delay is shorter than this, whatever the jitter drew (a PBX must not be hammered).
MIN_DELAY = 0.05


@dataclass
class Backoff:
    """Delays before each new attempt: `initial`, then doubled per failure up to `maximum`,
    each spread by +-`jitter` (0.2 = +-20 %) so that many clients do not retry in step.
    `reset()` once a link has come up: the next failure starts from `initial` again."""

    initial: float = 1.0
    maximum: float = 60.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    _next: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum <= 0:
            raise ValueError("backoff delays must be positive")
        if not 0 <= self.jitter < 1:
            raise ValueError("backoff jitter must be 0 <= jitter < 1")
        self._next = self.initial

    def reset(self) -> None:
        self._next = self.initial

    def next(self) -> float:
        """The delay before the next attempt (and the one after it doubles)."""
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return max(MIN_DELAY, delay * (1 + self.rng.uniform(-self.jitter, self.jitter)))
