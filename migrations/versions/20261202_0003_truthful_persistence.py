"""training runs as recorded; drop the tables and columns nothing wrote

`datasets` and `models` go (datasets and model versions live in the data folder; who promoted,
rolled back or deleted a version is in the audit log); `training_runs` is made again in the
shape the code writes (nothing ever wrote the old one). Image content columns go with the
switch that never stored anything. The audit log may name a command-line login instead of a
Discord user. Downgrading loses the training runs and turns CLI audit rows into actor 0.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.drop_table("models")
    with op.batch_alter_table("training_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_training_runs_status")
        batch_op.drop_index(batch_op.f("ix_training_runs_dataset_id"))
    op.drop_table("training_runs")
    op.drop_table("datasets")
    op.create_table(
        "training_runs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("dataset", sa.String(length=100), nullable=False),
        sa.Column("segmenter", sa.String(length=100), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "finished",
                "cancelled",
                "failed",
                name="trainingstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("cli_user", sa.String(length=100), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_runs")),
    )
    with op.batch_alter_table("training_runs", schema=None) as batch_op:
        batch_op.create_index("ix_training_runs_started_at", ["started_at"], unique=False)
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("output_content")
        batch_op.drop_column("input_content")
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.drop_column("store_image_content")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cli_user", sa.String(length=100), nullable=True))
        batch_op.alter_column("actor_id", existing_type=sa.BigInteger(), nullable=True)


def downgrade() -> None:
    """Revert this revision."""
    op.execute("UPDATE audit_log SET actor_id = 0 WHERE actor_id IS NULL")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("actor_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_column("cli_user")
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "store_image_content", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("input_content", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("output_content", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("training_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_training_runs_started_at")
    op.drop_table("training_runs")
    _create_old_datasets_runs_and_models()


def _create_old_datasets_runs_and_models() -> None:
    """The three tables as revision 0001 made them."""
    op.create_table(
        "datasets",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("image_count", sa.Integer(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_datasets_name")),
    )
    op.create_table(
        "training_runs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("dataset_id", BIG_ID, nullable=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                "cancelled",
                name="trainingstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("total_steps", sa.Integer(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_training_runs_dataset_id_datasets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_runs")),
    )
    with op.batch_alter_table("training_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_training_runs_dataset_id"), ["dataset_id"], unique=False
        )
        batch_op.create_index("ix_training_runs_status", ["status"], unique=False)
    op.create_table(
        "models",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("file", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("segmenter", sa.String(length=100), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "candidate", "active", "retired", name="modelstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("training_run_id", BIG_ID, nullable=True),
        sa.Column("trained_by", sa.BigInteger(), nullable=True),
        sa.Column("promoted_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["training_run_id"],
            ["training_runs.id"],
            name=op.f("fk_models_training_run_id_training_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("name", "version", name="uq_models_name_version"),
    )
