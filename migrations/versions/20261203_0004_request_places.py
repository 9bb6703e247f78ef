"""requests: the install (server or person) and the kind of channel each came from

Rows made before this revision, and requests from the command line or the engine service,
leave both empty.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSTALLS = ("guild", "user")
CHANNEL_KINDS = ("guild_text", "guild_thread", "guild_voice", "bot_dm", "dm", "group_dm")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "install",
                sa.Enum(*INSTALLS, name="installcontext", native_enum=False, length=16),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "channel_kind",
                sa.Enum(*CHANNEL_KINDS, name="channelkind", native_enum=False, length=16),
                nullable=True,
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("channel_kind")
        batch_op.drop_column("install")
