"""requests: the segmenter a result was made with and the message it was posted in

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 14:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segmenter", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("result_message_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("result_message_id")
        batch_op.drop_column("segmenter")
