"""An in-repo fake Discord server that the unmodified discord.py client logs in to."""

from .installs import NotOfferedError
from .payloads import Channel, User
from .server import FakeDiscord
from .world import Call, FakeInteraction

__all__ = ["Call", "Channel", "FakeDiscord", "FakeInteraction", "NotOfferedError", "User"]
