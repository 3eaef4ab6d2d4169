"""Reconnection delays: exponential backoff with jitter, like socket.io-client's.

Pure arithmetic with the random source injected, so the schedule is unit-tested exactly.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable


def backoff_delay(
    attempt: int,
    base: float,
    maximum: float,
    randomization_factor: float,
    rand: Callable[[], float] = _random.random,
) -> float:
    """Delay before reconnection attempt ``attempt`` (0 for the first), in seconds.

    ``base * 2**attempt`` moved by up to ``randomization_factor`` of itself in either
    direction (uniformly, from one ``rand()`` draw in [0, 1)), then capped at ``maximum``.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    delay = base * 2.0 ** min(attempt, 64)
    if randomization_factor > 0:
        delay += (2.0 * rand() - 1.0) * randomization_factor * delay
    return max(0.0, min(delay, maximum))


class Backoff:
    """The delays of one run of reconnection attempts; ``reset()`` after a success."""

    def __init__(
        self,
        base: float = 1.0,
        maximum: float = 5.0,
        randomization_factor: float = 0.5,
        rand: Callable[[], float] = _random.random,
    ) -> None:
        if base < 0 or maximum < 0 or not 0 <= randomization_factor <= 1:
            raise ValueError("delays must be >= 0 and randomization_factor within [0, 1]")
        self.base = base
        self.maximum = maximum
        self.randomization_factor = randomization_factor
        self._rand = rand
        self.attempts = 0

    def next_delay(self) -> float:
        delay = backoff_delay(
            self.attempts, self.base, self.maximum, self.randomization_factor, self._rand
        )
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0
