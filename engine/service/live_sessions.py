"""The bound on live camera sessions, and what they answered and dropped (for /metrics)."""

from __future__ import annotations


class LiveSessions:
    """How many sessions are open (at most `capacity`), and frames answered and dropped."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.open = 0
        self.answered = 0
        self.dropped = 0  # replaced by a newer frame before the engine reached them

    def try_open(self) -> bool:
        """Take a place; False when every place is taken."""
        if self.open >= self.capacity:
            return False
        self.open += 1
        return True

    def close(self) -> None:
        """Give a place back."""
        self.open -= 1
