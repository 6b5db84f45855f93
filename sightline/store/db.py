"""Opening the database: which URL, engine settings per dialect, schema migrations, sessions.

SQLite is the embedded default (nothing to start); PostgreSQL is the scale-out choice. The schema
is brought up to date every time a store is opened, so an upgrade of Sightline never needs a
separate migration step.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DataError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from sightline.config import env_text, home
from sightline.errors import InvalidRequestError, StorageFullError, StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000
MIN_SQLITE = (3, 35, 0)
# Any fixed 64-bit number: PostgreSQL serialises concurrent `migrate` calls on it.
_MIGRATION_LOCK_ID = 0x5167_6874_6C69_6E65 & 0x7FFF_FFFF_FFFF_FFFF
# psycopg's words when a value holds a NUL, which PostgreSQL text cannot store (SQLite can): any id,
# name or metadata a client sends may, so it is the client's error (400), never a 500.
_NUL_REFUSED = "cannot contain NUL"


def database_url() -> str:
    """`SIGHTLINE_DATABASE_URL`, or a SQLite file under `SIGHTLINE_HOME`."""
    return env_text("SIGHTLINE_DATABASE_URL") or f"sqlite:///{home() / 'sightline.db'}"


def _normalise_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {url!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        # psycopg 3 is the driver we ship; plain `postgresql://` would ask for psycopg2.
        return parsed.set(drivername="postgresql+psycopg")
    if backend != "sqlite":
        raise StoreError(f"unsupported database {parsed.drivername!r}: use sqlite:///PATH or postgresql://USER@HOST/DB")
    return parsed


def _is_sqlite_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _set_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")  # wait for the writer, not fail
        cursor.execute("PRAGMA foreign_keys=ON")  # off by default: cascades would silently not happen
        _enable_wal(cursor)
    finally:
        cursor.close()


def _enable_wal(cursor) -> None:
    """WAL journal (readers and the writer do not block each other); it persists in the file.

    Switching a fresh database to WAL fails at once with "database is locked" when another
    connection is busy with it (SQLite skips the busy handler there), so retry until the timeout.
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def create_engine_for(url: str) -> Engine:
    """An engine with the settings Sightline relies on (SQLite: foreign keys, WAL, busy timeout)."""
    parsed = _normalise_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True)
    if sqlite3.sqlite_version_info < MIN_SQLITE:  # job claiming uses UPDATE ... RETURNING
        raise StoreError(
            f"SQLite {sqlite3.sqlite_version} is too old: Sightline needs {'.'.join(map(str, MIN_SQLITE))} "
            "or newer (use a newer Python build, or PostgreSQL)"
        )
    if _is_sqlite_memory(parsed):
        # One shared connection, or every new connection would see its own empty database.
        engine = create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        folder = Path(parsed.database or "").expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the database folder {folder}: {exc.strerror or exc}") from None
        engine = create_engine(parsed)
    event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code (no alembic.ini): our migrations folder, this connection or URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url().replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    try:
        command.upgrade(alembic_config(connection), "head")
    except CommandError as exc:
        # Typically a database written by a newer Sightline: its revision is unknown here.
        raise StoreError(
            f"cannot bring the database schema up to date ({_one_line(exc)}); "
            "a database written by a newer Sightline needs that version"
        ) from None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to run again and from several processes at once.

    The whole upgrade is one transaction that holds a lock, so two processes starting together on a
    fresh database do not both try to create the tables, and a failed migration leaves no half schema.
    """
    try:
        if engine.dialect.name == "sqlite":
            # pysqlite neither wraps DDL in a transaction nor takes the write lock early: do both by hand.
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                with conn.begin():  # its commit/rollback reach SQLite as COMMIT/ROLLBACK
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    _upgrade(conn)
        else:
            with engine.begin() as conn:
                conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_ID)))
                _upgrade(conn)
    except OperationalError as exc:
        raise StoreError(f"cannot open the database {_safe_url(engine)}: {_one_line(exc.orig)}") from None


def _is_disk_full(error: OperationalError) -> bool:
    """SQLite's SQLITE_FULL, PostgreSQL's disk_full (SQLSTATE 53100)."""
    if getattr(error.orig, "sqlstate", None) == "53100":
        return True
    return getattr(error.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(error.orig)


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _one_line(exc: BaseException | None) -> str:
    """Driver messages span lines; a CLI error is one line."""
    return " ".join(str(exc).split())


class Store:
    """The database of one Sightline installation; hand out short sessions with `session()`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # expire_on_commit=False: objects returned by an operation stay readable after its commit.
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """The dialect name: `sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        On SQLite the transaction really begins at the first write (pysqlite's default), so writers
        never fail on a stale read snapshot; rely on constraints and conditional UPDATEs, not on
        reads being repeatable, for correctness under concurrency.
        """
        try:
            with self._sessions.begin() as session:
                yield session
        except DataError as error:
            if _NUL_REFUSED in str(error.orig):
                raise InvalidRequestError("text may not contain NUL (0x00) characters") from error
            raise
        except OperationalError as error:
            if _is_disk_full(error):
                raise StorageFullError(f"the database is full ({_one_line(error.orig)}); free some space") from None
            raise

    def close(self) -> None:
        """Close pooled connections (tests, and processes that open several stores)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({_safe_url(self.engine)!r})"


def open_store(url: str | None = None) -> Store:
    """Connect to `url` (default: `database_url()`), migrate the schema, and return the store."""
    engine = create_engine_for(url or database_url())
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine)
