"""Iteration names unique per project, and at most one queued or running iteration per project.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02

Concurrent `train` requests on PostgreSQL could queue several iterations with the same name; these
indexes make both rules constraints that no race can break. Rows written before them are repaired
first: a repeated name gets its id appended, and of several active iterations of one project all but
the newest are cancelled.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "status IN ('Queued', 'Training')"

iterations = sa.table(
    "iterations",
    sa.column("id", sa.String),
    sa.column("project_id", sa.String),
    sa.column("name", sa.String),
    sa.column("status", sa.String),
    sa.column("created", sa.DateTime(timezone=True)),
)


def _repair(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.select(iterations.c.id, iterations.c.project_id, iterations.c.name, iterations.c.status).order_by(
            iterations.c.created.desc(), iterations.c.id
        )
    ).all()
    names: set[tuple[str, str]] = set()
    active: set[str] = set()
    for row in rows:
        values = {}
        if (row.project_id, row.name) in names:
            values["name"] = f"{row.name[:200]} ({row.id})"
        names.add((row.project_id, values.get("name", row.name)))
        if row.status in ("Queued", "Training"):
            if row.project_id in active:
                values["status"] = "Cancelled"
            active.add(row.project_id)
        if values:
            connection.execute(sa.update(iterations).where(iterations.c.id == row.id).values(**values))


def upgrade() -> None:
    _repair(op.get_bind())
    op.create_index("ix_iterations_project_id_name", "iterations", ["project_id", "name"], unique=True)
    op.create_index(
        "ix_iterations_one_active",
        "iterations",
        ["project_id"],
        unique=True,
        sqlite_where=sa.text(_ACTIVE),
        postgresql_where=sa.text(_ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("ix_iterations_one_active", "iterations")
    op.drop_index("ix_iterations_project_id_name", "iterations")
