"""Model administration, offered by engines that own their model registry (the embedded one)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class ModelAdmin(Protocol):
    """Promote, roll back and delete model versions."""

    async def promote(self, name: str, version: int | None = None) -> str:
        """Serve `version` (default: newest) of `name`; returns the served label."""
        ...

    async def rollback(self, name: str) -> str:
        """Undo the last promotion of `name`; returns the label now served."""
        ...

    async def delete(self, name: str, version: int) -> None:
        """Remove a user model version."""
        ...
