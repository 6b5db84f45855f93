"""Alembic environment for Sightline's schema.

Run by `sightline.store.db.migrate`, which hands over an open connection inside a transaction
(`config.attributes["connection"]`). Developers write a new revision with:

    from alembic import command
    from sightline.store.db import alembic_config
    command.revision(alembic_config(), message="...", autogenerate=True)  # uses SIGHTLINE_DATABASE_URL

then review the generated file by hand (SQLite needs `op.batch_alter_table` for most ALTERs).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from sightline.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
elif context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))  # type: ignore[arg-type]  # alembic_config() sets it
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
