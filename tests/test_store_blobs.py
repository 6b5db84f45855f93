"""The content-addressed blob store: a local folder, fsspec memory:// and S3 (SeaweedFS, see s3_fixtures.py)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest

from sightline.store import THUMBNAIL_SUFFIX, BlobStore, default_blob_url


@pytest.fixture(params=["local", "memory", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield BlobStore(str(tmp_path / "blobs"))
        return
    if request.param == "s3":
        store = BlobStore(request.getfixturevalue("s3_blob_url"))
        store.check()
        yield store
        return
    # memory:// is one filesystem per process: a unique prefix keeps tests apart.
    store = BlobStore(f"memory://blobs-{uuid.uuid4().hex}")
    yield store
    if store.fs.exists(store.root):
        store.fs.rm(store.root, recursive=True)


def _files(blobs: BlobStore) -> list[str]:
    if not blobs.fs.exists(blobs.root):
        return []
    return sorted(blobs.fs.find(blobs.root))


def test_put_returns_the_sha256_and_get_returns_the_bytes(blobs):
    data = b"some image bytes"
    key = blobs.put(data)
    assert key == hashlib.sha256(data).hexdigest() == BlobStore.key_for(data)
    assert blobs.exists(key)
    assert blobs.get(key) == data
    assert _files(blobs) == [blobs.path(key)]
    assert blobs.path(key).endswith(f"/{key[:2]}/{key[2:4]}/{key}")


def test_putting_the_same_bytes_twice_stores_them_once(blobs):
    assert blobs.put(b"same") == blobs.put(b"same")
    assert len(_files(blobs)) == 1


def test_delete_removes_a_blob_and_tolerates_a_missing_one(blobs):
    key = blobs.put(b"to delete")
    blobs.delete(key)
    assert not blobs.exists(key)
    blobs.delete(key)
    with pytest.raises(FileNotFoundError, match=key):
        blobs.get(key)


def test_derived_blobs_live_beside_their_source_under_their_own_key(blobs):
    key = blobs.put(b"original")
    derived = blobs.put_derived(key, THUMBNAIL_SUFFIX, b"small")
    assert derived == f"{key}.thumb"
    assert blobs.get(derived) == b"small"
    blobs.delete(key)
    assert blobs.exists(derived)
    with pytest.raises(ValueError):
        blobs.put_derived(key, "../escape", b"x")
    with pytest.raises(ValueError):
        blobs.put_derived(derived, "again", b"x")


@pytest.mark.parametrize("key", ["../../etc/passwd", "A" * 64, "a" * 63, "a" * 64 + "/x", ""])
def test_keys_that_are_not_content_keys_are_refused(blobs, key):
    with pytest.raises(ValueError, match="not a blob key"):
        blobs.get(key)


def test_a_failed_write_leaves_no_blob_and_no_temporary_file(blobs, monkeypatch):
    def broken_move(*args, **kwargs):
        raise OSError("disk full")

    # a folder fails between writing and renaming; an object store while uploading
    monkeypatch.setattr(blobs.fs, "mv" if blobs._needs_rename else "pipe_file", broken_move)
    with pytest.raises(OSError, match="disk full"):
        blobs.put(b"never stored")
    assert not blobs.exists(hashlib.sha256(b"never stored").hexdigest())
    assert [path for path in _files(blobs) if not path.endswith("/")] == []


def test_writes_go_through_a_temporary_name(blobs, monkeypatch):
    """A reader must never see a partial blob: the bytes are written elsewhere, then moved in.

    An object store publishes an upload whole or not at all: there the blob is written in one request.
    """
    written: list[str] = []
    pipe_file = blobs.fs.pipe_file
    monkeypatch.setattr(
        blobs.fs, "pipe_file", lambda path, data, **kw: (written.append(path), pipe_file(path, data, **kw))
    )
    key = blobs.put(b"atomic")
    assert len(written) == 1
    if not blobs._needs_rename:
        assert written == [blobs.path(key)]
        return
    assert written[0] != blobs.path(key)
    assert written[0].endswith(".tmp")
    assert _files(blobs) == [blobs.path(key)]


def test_default_url_is_env_or_a_folder_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("SIGHTLINE_BLOB_URL", raising=False)
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path))
    assert default_blob_url() == str(tmp_path / "blobs")
    assert BlobStore().url == str(tmp_path / "blobs")
    monkeypatch.setenv("SIGHTLINE_BLOB_URL", "memory://elsewhere")
    assert BlobStore().url == "memory://elsewhere"
