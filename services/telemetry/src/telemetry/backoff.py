"""Exponential backoff with full jitter, so many clients do not reconnect in step."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    base: float = 0.2
    cap: float = 5.0
    attempt: int = 0

    def next(self) -> float:
        """The delay before the next attempt: random in [base/2, min(cap, base * 2^n)]."""
        self.attempt += 1
        ceiling = min(self.cap, self.base * 2 ** (self.attempt - 1))
        return random.uniform(min(self.base / 2, ceiling), ceiling)

    def reset(self) -> None:
        self.attempt = 0
