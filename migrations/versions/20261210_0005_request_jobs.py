"""request_jobs: the durable queue of waiting and running requests; pgqueuer on PostgreSQL

Each waiting or running request has a row saying what to run and where to answer; the row
goes when the request ends. On PostgreSQL the job-queue library pgqueuer (pinned in
pyproject.toml) claims the jobs for the bot processes: its schema is installed here, as
the pinned version writes it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment
from sqlalchemy.util import await_only

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "request_jobs",
        sa.Column(
            "request_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("task", sa.JSON(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_request_jobs_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_request_jobs")),
    )
    with op.batch_alter_table("request_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_request_jobs_turn", ["turn", "request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_request_jobs_user_id"), ["user_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        run_script(QueryBuilderEnvironment().build_install_query())


def run_script(sql: str) -> None:
    """Several statements at once, in the migration's transaction: asyncpg runs a script
    through its simple query protocol (a prepared statement takes one command)."""
    raw = op.get_bind().connection.driver_connection
    await_only(raw.execute(sql))


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        run_script(QueryBuilderEnvironment().build_uninstall_query())
    with op.batch_alter_table("request_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_jobs_user_id"))
        batch_op.drop_index("ix_request_jobs_turn")
    op.drop_table("request_jobs")
