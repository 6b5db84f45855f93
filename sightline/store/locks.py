"""Row locks that hold on SQLite and PostgreSQL alike, for the few operations that read-then-write.

Constraints settle most races; when a decision depends on several rows (is an iteration already
queued? which name is free?), the writer first locks the project, so the decision and the write are
one step for everyone else.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sightline.store.models import Project


def lock_project(session: Session, project_id: str) -> None:
    """Hold the project's row until the transaction ends; other lockers of it wait.

    PostgreSQL: `SELECT ... FOR UPDATE`. SQLite: a no-op UPDATE, which takes the database's one write
    lock now (pysqlite begins the transaction only at the first write), so the reads that follow see
    every committed write and no other writer can come between them and this transaction's writes.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Project.id).where(Project.id == project_id).with_for_update())
        return
    session.execute(
        update(Project)
        .where(Project.id == project_id)
        .values(modified=Project.modified)  # named, so its onupdate does not fire
        .execution_options(synchronize_session=False)
    )
