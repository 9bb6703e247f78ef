"""An in-repo fake Discord server that the unmodified discord.py client logs in to."""

from .payloads import Channel, User
from .server import Call, FakeDiscord, FakeInteraction

__all__ = ["Call", "Channel", "FakeDiscord", "FakeInteraction", "User"]
