"""Fixtures for the store tests: an empty database per test, on SQLite and on PostgreSQL.

PostgreSQL: each test session (each xdist worker) gets its own temporary database
(`sightline_test_<random>`, created from the `test` database and dropped afterwards), so parallel
runs (`pytest -n 2`) never see each other's rows. Tests of migrations get a fresh, empty schema;
the others share one migrated schema that is emptied after each test (migrating per test would
cost a quarter of a second each). When the server is unreachable the PostgreSQL tests skip,
except under CI (env `CI` set), where they fail: CI must run them.

They are registered for the whole suite by `pytest_plugins` in tests/conftest.py; they live here so
the database set-up stays in one place.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL, make_url

from sightline.store import Base, Store, open_store

PG_ADMIN_URL = os.environ.get("SIGHTLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DIALECTS = ["sqlite", "postgresql"]


def _connect(url: URL):
    import psycopg

    return psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        autocommit=True,
        connect_timeout=3,
    )


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()} is unavailable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: the PostgreSQL tests must run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """URL of a temporary PostgreSQL database that lives as long as the test session."""
    admin_url = make_url(PG_ADMIN_URL)
    try:
        admin = _connect(admin_url)
    except Exception as exc:  # any connection failure means "no server here"
        _unavailable(str(exc).strip())
    name = f"sightline_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_pg_schema_url(database_url: str) -> str:
    """The database URL with a new, empty schema first on the search path: an empty database, in effect."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = make_url(database_url)
    with _connect(url) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@pytest.fixture(params=DIALECTS)
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """URL of an empty, never migrated database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sightline.db'}"
    return fresh_pg_schema_url(request.getfixturevalue("pg_database_url"))


@pytest.fixture(scope="session")
def _shared_pg_store(pg_database_url: str) -> Iterator[Store]:
    opened = open_store(fresh_pg_schema_url(pg_database_url))
    yield opened
    opened.close()


def _emptied_after_test(store: Store) -> Iterator[Store]:
    try:
        yield store
    finally:
        # DELETE, not TRUNCATE: on a handful of rows it is ten times faster.
        with store.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def pg_store(_shared_pg_store: Store) -> Iterator[Store]:
    """A migrated, empty store on PostgreSQL only, for behaviour SQLite does not have (row locks)."""
    yield from _emptied_after_test(_shared_pg_store)


@pytest.fixture(params=DIALECTS)
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    """A migrated, empty store on each dialect."""
    if request.param == "postgresql":
        yield from _emptied_after_test(request.getfixturevalue("_shared_pg_store"))
        return
    opened = open_store(f"sqlite:///{tmp_path / 'sightline.db'}")
    try:
        yield opened
    finally:
        opened.close()
