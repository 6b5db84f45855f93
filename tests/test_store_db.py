"""The database layer: URL handling, migrations, session semantics and the models' constraints."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from sightline.errors import InvalidRequestError, StoreError
from sightline.store import (
    Base,
    ClassificationType,
    Image,
    ImageMetadata,
    ImageTag,
    Iteration,
    IterationStatus,
    Prediction,
    Project,
    Store,
    Tag,
    TagType,
    alembic_config,
    create_engine_for,
    database_url,
    migrate,
    open_store,
)

pytest_plugins = ["store_fixtures"]  # store, store_url, pg_store: SQLite and PostgreSQL

TABLES = {
    "projects",
    "tags",
    "images",
    "image_metadata",
    "image_tags",
    "iterations",
    "predictions",
    "embeddings",
    "settings",
}


def _project(session, name: str = "Shoes", **kwargs) -> Project:
    project = Project(name=name, domain="tiny", **kwargs)
    session.add(project)
    session.flush()
    return project


def _image(session, project: Project, sha: str = "a" * 64) -> Image:
    image = Image(project_id=project.id, sha256=sha, blob_key=sha, width=64, height=48, format="JPEG", size_bytes=1234)
    session.add(image)
    session.flush()
    return image


def _iteration(session, project: Project, **kwargs) -> Iteration:
    """A Completed iteration by default (a project may have one Queued or Training iteration at a time)."""
    kwargs.setdefault("status", IterationStatus.COMPLETED)
    number = len(session.scalars(select(Iteration.id).where(Iteration.project_id == project.id)).all()) + 1
    iteration = Iteration(
        project_id=project.id,
        name=f"Iteration {number}",
        classification_type=project.classification_type,
        domain=project.domain,
        **kwargs,
    )
    session.add(iteration)
    session.flush()
    return iteration


def _count(store: Store, model) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model))


# --- URLs and engines ---------------------------------------------------------------------------


def test_database_url_defaults_to_sqlite_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("SIGHTLINE_DATABASE_URL", raising=False)
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path))
    assert database_url() == f"sqlite:///{tmp_path / 'sightline.db'}"
    monkeypatch.setenv("SIGHTLINE_DATABASE_URL", "postgresql+psycopg://u@db/sightline")
    assert database_url() == "postgresql+psycopg://u@db/sightline"


def test_open_store_default_creates_the_home_folder(monkeypatch, tmp_path):
    home = tmp_path / "not" / "yet"
    monkeypatch.delenv("SIGHTLINE_DATABASE_URL", raising=False)
    monkeypatch.setenv("SIGHTLINE_HOME", str(home))
    opened = open_store()
    try:
        assert (home / "sightline.db").is_file()
        assert set(inspect(opened.engine).get_table_names()) >= TABLES
    finally:
        opened.close()


def test_sqlite_engine_enables_foreign_keys_wal_and_busy_timeout(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        engine.dispose()


def test_plain_postgresql_urls_use_the_psycopg3_driver():
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        engine = create_engine_for(url)
        assert engine.url.drivername == "postgresql+psycopg"
        engine.dispose()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_unsupported_database_urls_are_refused_clearly(url):
    with pytest.raises(StoreError, match="database"):
        create_engine_for(url)


def test_unreachable_postgresql_is_a_store_error():
    # Port 1 on loopback refuses at once; the password must not leak into the message.
    with pytest.raises(StoreError, match="cannot open the database") as caught:
        open_store("postgresql://postgres:secret@127.0.0.1:1/nothing?connect_timeout=2")
    assert "secret" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_database_folder_that_cannot_be_created_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the database folder"):
        open_store(f"sqlite:///{blocker / 'sub' / 'sightline.db'}")


def test_in_memory_sqlite_keeps_one_database_across_sessions():
    opened = open_store("sqlite://")
    try:
        with opened.session() as session:
            _project(session)
        assert _count(opened, Project) == 1
    finally:
        opened.close()


# --- migrations ---------------------------------------------------------------------------------


def test_migrations_apply_to_an_empty_database_and_are_idempotent(store_url):
    first = open_store(store_url)
    try:
        with first.session() as session:
            _project(session)
        second = open_store(store_url)  # migrates again: a no-op that keeps the data
        migrate(second.engine)
        second.close()
        assert set(inspect(first.engine).get_table_names()) >= TABLES
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        with first.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head
        assert _count(first, Project) == 1
    finally:
        first.close()


def test_the_migrations_create_exactly_what_the_models_describe(store):
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_concurrent_first_starts_both_succeed(store_url):
    errors: list[BaseException] = []
    stores: list[Store] = []
    barrier = threading.Barrier(2)

    def start() -> None:
        barrier.wait()
        try:
            stores.append(open_store(store_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    assert errors == []
    assert len(stores) == 2


def test_a_database_from_a_newer_sightline_is_refused(store_url):
    opened = open_store(store_url)
    try:
        with opened.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(StoreError, match="newer Sightline"):
            migrate(opened.engine)
    finally:
        opened.close()


# --- sessions -----------------------------------------------------------------------------------


def test_session_commits_on_success_and_rolls_back_on_error(store):
    with store.session() as session:
        _project(session, "kept")
    with pytest.raises(RuntimeError), store.session() as session:
        _project(session, "discarded")
        raise RuntimeError("boom")
    with store.session() as session:
        assert session.scalars(select(Project.name)).all() == ["kept"]


def test_a_nul_that_postgresql_cannot_store_is_the_clients_error_and_nothing_is_written(pg_store):
    """Any id, name or metadata a client sends may hold a NUL (%00 in a URL): a 400, never a 500."""
    with pytest.raises(InvalidRequestError, match="NUL"), pg_store.session() as session:
        _project(session, "kept\x00not")
    with pytest.raises(InvalidRequestError, match="NUL"), pg_store.session() as session:
        session.get(Project, "no\x00such id")
    with pg_store.session() as session:
        assert session.scalars(select(Project.name)).all() == []


def test_objects_stay_readable_after_their_session_ends(store):
    with store.session() as session:
        project = _project(session, classification_type=ClassificationType.MULTILABEL)
    assert project.name == "Shoes"
    assert project.classification_type == "Multilabel"
    assert len(project.id) == 36


# --- constraints --------------------------------------------------------------------------------


def test_project_names_are_unique(store):
    with store.session() as session:
        _project(session, "Shoes")
    with pytest.raises(IntegrityError), store.session() as session:
        _project(session, "Shoes")


def test_tag_names_are_unique_per_project_ignoring_case(store):
    with store.session() as session:
        shoes, hats = _project(session, "Shoes"), _project(session, "Hats")
        session.add(Tag(project_id=shoes.id, name="Sneaker"))
        session.add(Tag(project_id=hats.id, name="sneaker"))  # another project: allowed
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(Tag(project_id=shoes.id, name="SNEAKER"))
        session.flush()
    with store.session() as session:
        tag = session.scalars(select(Tag).where(Tag.project_id == shoes.id)).one()
        assert (tag.name, tag.name_key, tag.type) == ("Sneaker", "sneaker", TagType.REGULAR)


def test_renaming_a_tag_updates_its_key():
    tag = Tag(name="Boot")
    tag.name = "Straße"
    assert tag.name_key == Tag.key_for("STRASSE") == "strasse"


def test_the_same_image_twice_in_a_project_is_refused(store):
    with store.session() as session:
        shoes, hats = _project(session, "Shoes"), _project(session, "Hats")
        _image(session, shoes)
        _image(session, hats)  # the same bytes in another project: allowed
    with pytest.raises(IntegrityError), store.session() as session:
        _image(session, shoes)


def test_publish_names_are_unique_per_project_once_set(store):
    with store.session() as session:
        project = _project(session)
        _iteration(session, project)
        _iteration(session, project)  # two unpublished iterations: NULL names do not collide
        _iteration(session, project, publish_name="prod")
    with pytest.raises(IntegrityError), store.session() as session:
        _iteration(session, project, publish_name="prod")


def test_enums_are_stored_as_custom_vision_strings_and_checked(store):
    with store.session() as session:
        project = _project(session)
        _iteration(session, project)
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT status, classification_type FROM iterations")).one()
    assert tuple(stored) == ("Completed", "Multiclass")
    with pytest.raises(StatementError), store.session() as session:
        session.add(Project(name="Bad", domain="tiny", classification_type="Multiple"))
        session.flush()


def test_iteration_names_are_unique_and_one_iteration_is_active_per_project(store):
    with store.session() as session:
        project = _project(session)
        first = _iteration(session, project, status=IterationStatus.QUEUED)
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(Iteration(project_id=project.id, name=first.name, classification_type="Multiclass", domain="tiny",
                              status=IterationStatus.COMPLETED))  # fmt: skip
    with pytest.raises(IntegrityError), store.session() as session:
        _iteration(session, project, status=IterationStatus.TRAINING)
    with store.session() as session:
        _iteration(session, project)  # a finished one beside the active one is fine


def test_deleting_a_project_deletes_everything_it_owns(store):
    with store.session() as session:
        doomed, kept = _project(session, "Doomed"), _project(session, "Kept")
        for project in (doomed, kept):
            tag = Tag(project_id=project.id, name="Boot")
            image = _image(session, project)
            session.add(tag)
            session.flush()
            session.add(ImageTag(image_id=image.id, tag_id=tag.id))
            session.add(ImageMetadata(image_id=image.id, key="source", value="camera"))
            iteration = _iteration(session, project)
            session.add(Prediction(project_id=project.id, iteration_id=iteration.id, results=[]))
    with store.session() as session:
        session.delete(session.get(Project, doomed.id))
    for model in (Tag, Image, ImageTag, ImageMetadata, Iteration, Prediction):
        assert _count(store, model) == 1, model.__name__
    with store.session() as session:
        assert session.scalars(select(Project.name)).all() == ["Kept"]


def test_deleting_a_tag_untags_its_images_and_an_iteration_detaches_its_predictions(store):
    with store.session() as session:
        project = _project(session)
        tag = Tag(project_id=project.id, name="Boot")
        session.add(tag)
        image = _image(session, project)
        session.add(ImageTag(image_id=image.id, tag_id=tag.id))
        iteration = _iteration(session, project)
        prediction = Prediction(project_id=project.id, iteration_id=iteration.id, results=[{"tag": "Boot"}])
        session.add(prediction)
    with store.session() as session:
        session.delete(session.get(Tag, tag.id))
        session.delete(session.get(Iteration, iteration.id))
    assert _count(store, ImageTag) == 0
    assert _count(store, Image) == 1
    with store.session() as session:
        kept = session.get(Prediction, prediction.id)
        assert kept.iteration_id is None
        assert kept.results == [{"tag": "Boot"}]


# --- timestamps ---------------------------------------------------------------------------------


def test_timestamps_come_back_as_aware_utc(store):
    plus_two = timezone(timedelta(hours=2))
    published = datetime(2026, 3, 1, 14, 0, tzinfo=plus_two)
    with store.session() as session:
        project = _project(session)
        iteration = _iteration(session, project, published_at=published)
    with store.session() as session:
        loaded = session.get(Iteration, iteration.id)
        assert loaded.published_at == published
        assert loaded.published_at.tzinfo == UTC
        assert loaded.published_at.hour == 12
        assert loaded.created.tzinfo == UTC
        assert abs(datetime.now(UTC) - loaded.created) < timedelta(minutes=5)


def test_naive_datetimes_are_refused(store):
    with pytest.raises(StatementError, match="naive datetime"), store.session() as session:
        project = _project(session)
        _iteration(session, project, published_at=datetime(2026, 3, 1, 12, 0))


def test_an_sqlite_without_returning_is_refused_clearly(monkeypatch):
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    with pytest.raises(StoreError, match="too old"):
        create_engine_for("sqlite://")
