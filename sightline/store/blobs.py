"""Content-addressed blob storage (image bytes, thumbnails, trained artifacts) on any fsspec URL.

A blob's key is the sha256 of its bytes, so storing the same image twice costs nothing and a key
can never point at different content. Derived blobs (a thumbnail of an image, say) are keyed
`<sha256>.<suffix>` next to their source. The local default is a folder under `SIGHTLINE_HOME`;
`SIGHTLINE_BLOB_URL=s3://bucket/prefix` (the `s3` extra: s3fs) scales out; see `storage_options`
for the S3 settings (endpoint, keys, retries).

Atomic writes: on a local folder a blob is written under a temporary name and renamed; an object
store publishes an object only once its upload completed, so a reader never sees half a blob on either.

Keys are shared across projects: delete a blob only when no row refers to it any more.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fsspec.core import url_to_fs

from sightline.config import env_int, env_text, home
from sightline.errors import BlobStoreError, ConfigError, StorageFullError

#: The `put_derived` suffix a JPEG thumbnail of an image blob is stored under.
THUMBNAIL_SUFFIX = "thumb"
KEY_PATTERN = re.compile(r"[0-9a-f]{64}(\.[a-z0-9_-]{1,32})?")
SUFFIX_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")
#: "No space left on device", "Disk quota exceeded".
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
# Object stores publish an object only once its upload completed: no temporary name needed there.
_ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})


def default_blob_url() -> str:
    """`SIGHTLINE_BLOB_URL`, or the folder `blobs` under `SIGHTLINE_HOME`."""
    return env_text("SIGHTLINE_BLOB_URL") or str(home() / "blobs")


def _timestamp(info: dict) -> float | None:
    """A file's modification time from fsspec's info (local `mtime`, object stores `LastModified`)."""
    modified: Any = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
    if hasattr(modified, "timestamp"):
        modified = modified.timestamp()
    return float(modified) if modified is not None else None


@dataclass(frozen=True)
class StoredFile:
    """A file in the blob store: its path, its name (a key, `<key>.<suffix>`, or `.<key>.<id>.tmp`) and mtime."""

    path: str
    name: str
    modified: float | None

    @property
    def base_key(self) -> str | None:
        """The image or artifact key this file is, or derives from; None for anything else (temporary files)."""
        base = self.name.split(".", 1)[0]
        return base if KEY_PATTERN.fullmatch(base) else None


def storage_options(url: str) -> dict:
    """fsspec options for `url`, from the environment. Only S3 has any:

    - `SIGHTLINE_S3_ENDPOINT_URL`: an S3-compatible server (SeaweedFS, MinIO, Ceph); default AWS.
    - `SIGHTLINE_S3_ACCESS_KEY_ID`, `SIGHTLINE_S3_SECRET_ACCESS_KEY`: keys; otherwise botocore's usual
      chain (`AWS_ACCESS_KEY_ID`..., `~/.aws`, instance roles).
    - `SIGHTLINE_S3_REGION`; `SIGHTLINE_S3_MAX_ATTEMPTS` (default 5): tries per request.

    Retries are botocore's "standard" mode: throttling (503 SlowDown, 429) and connection errors are
    retried with exponential backoff and jitter. Listings are not cached: another server may have
    written a blob a moment ago.
    """
    if url.split("://", 1)[0] not in ("s3", "s3a"):
        return {}
    config: dict = {
        "retries": {"max_attempts": env_int("SIGHTLINE_S3_MAX_ATTEMPTS"), "mode": "standard"},
        "connect_timeout": 10,
        "read_timeout": 60,
    }
    options: dict = {"config_kwargs": config, "use_listings_cache": False, "skip_instance_cache": True}
    client: dict = {}
    if endpoint := env_text("SIGHTLINE_S3_ENDPOINT_URL"):
        client["endpoint_url"] = endpoint
    if region := env_text("SIGHTLINE_S3_REGION"):
        client["region_name"] = region
    if client:
        options["client_kwargs"] = client
    key, secret = env_text("SIGHTLINE_S3_ACCESS_KEY_ID"), env_text("SIGHTLINE_S3_SECRET_ACCESS_KEY")
    if key and secret:
        options.update(key=key, secret=secret)
    return options


def open_filesystem(url: str, options: dict | None = None):
    """The fsspec filesystem and root path for `url`; a clear error when its package is missing."""
    try:
        return url_to_fs(url, **(storage_options(url) if options is None else options))
    except (ValueError, ImportError) as exc:  # an unknown protocol, or its fsspec package missing
        raise ConfigError(
            f"cannot use the blob store {url!r} (SIGHTLINE_BLOB_URL): {exc}; "
            "use a folder, or an fsspec URL such as s3://bucket/prefix (pip install 'sightline[s3]')"
        ) from None


class BlobStore:
    """put/get/exists/delete bytes by content key, on the filesystem that `url` names.

    `options`: fsspec storage options; default `storage_options(url)`, from the environment.
    """

    def __init__(self, url: str | None = None, options: dict | None = None) -> None:
        self.url = url or default_blob_url()
        self.fs, root = open_filesystem(self.url, options)
        self.root = root.rstrip("/")
        protocols = {self.fs.protocol} if isinstance(self.fs.protocol, str) else set(self.fs.protocol)
        self._needs_rename = not (protocols & _ATOMIC_PUT_PROTOCOLS)
        self._local = bool(protocols & {"file", "local"})

    def check(self) -> None:
        """Fail now, with a clear message, if blobs cannot be stored here: a missing bucket, refused
        credentials or an unreachable endpoint are start-up errors, not a surprise at the first upload."""
        try:
            if self._needs_rename:
                self.fs.makedirs(self.root, exist_ok=True)
            else:
                bucket = self.root.split("/", 1)[0]
                self.fs.ls(bucket, refresh=True)
        except FileNotFoundError:
            raise BlobStoreError(f"blob store {self.url}: the bucket does not exist; create it first") from None
        except PermissionError as exc:
            raise BlobStoreError(
                f"blob store {self.url}: access refused ({exc}); check SIGHTLINE_S3_ACCESS_KEY_ID and "
                "SIGHTLINE_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID...)"
            ) from None
        except Exception as exc:  # connection refused, DNS, TLS: whatever the driver raises
            raise BlobStoreError(f"blob store {self.url} cannot be reached: {exc}") from None

    @staticmethod
    def key_for(data: bytes) -> str:
        """The key `put(data)` returns: the sha256 of the bytes, in lower-case hex."""
        return hashlib.sha256(data).hexdigest()

    def path(self, key: str) -> str:
        """Where `key` lives: `<root>/ab/cd/<key>`, so no folder holds more than a few thousand files."""
        if not KEY_PATTERN.fullmatch(key):
            raise ValueError(f"not a blob key: {key!r}")
        return f"{self.root}/{key[:2]}/{key[2:4]}/{key}"

    def put(self, data: bytes) -> str:
        """Store `data` and return its key; storing bytes that are already there is a no-op."""
        key = self.key_for(data)
        self._write(key, data)
        return key

    def put_derived(self, key: str, suffix: str, data: bytes) -> str:
        """Store data derived from blob `key` (e.g. suffix "thumb") and return `<key>.<suffix>`.

        Derived data is a pure function of its source, so an existing derived blob is kept.
        """
        derived_key = self.derived_key(key, suffix)
        self._write(derived_key, data)
        return derived_key

    @staticmethod
    def derived_key(key: str, suffix: str) -> str:
        """The key data derived from blob `key` is stored under (`<key>.<suffix>`)."""
        if not SUFFIX_PATTERN.fullmatch(suffix) or "." in key:
            raise ValueError(f"cannot derive {suffix!r} from {key!r}")
        return f"{key}.{suffix}"

    def get(self, key: str) -> bytes:
        try:
            return self.fs.cat_file(self.path(key))
        except FileNotFoundError:
            raise FileNotFoundError(f"blob {key} is not in {self.url}") from None

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    def delete(self, key: str) -> None:
        """Remove one blob (derived blobs are separate keys); deleting a missing blob is a no-op."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(key))

    def delete_with_derived(self, key: str) -> None:
        """Remove blob `key` and every blob derived from it (`<key>.<suffix>`: thumbnails, exports)."""
        folder = self.path(key).rsplit("/", 1)[0]
        try:
            names = self.fs.ls(folder, detail=False)
        except FileNotFoundError:
            return
        for name in names:
            base = name.rsplit("/", 1)[-1]
            if base == key or base.startswith(f"{key}."):
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(name)

    def listing(self) -> Iterator[StoredFile]:
        """Every file under the store's root (blobs, derived blobs, temporary files of unfinished writes)."""
        try:
            found = self.fs.find(self.root, detail=True)
        except FileNotFoundError:
            return
        for path, info in found.items():
            yield StoredFile(path, path.rsplit("/", 1)[-1], _timestamp(info))

    def move_aside(self, key: str) -> str | None:
        """Rename blob `key` to a temporary name (readers no longer find it); returns that path, or None if absent."""
        path = self.path(key)
        moved = f"{path.rsplit('/', 1)[0]}/.{key}.{uuid.uuid4().hex}.tmp"
        try:
            self.fs.mv(path, moved)
        except FileNotFoundError:
            return None
        return moved

    def restore(self, key: str, moved: str) -> None:
        """Undo `move_aside` (if the blob was written again meanwhile, that copy, the same bytes, stays)."""
        if self.fs.exists(self.path(key)):
            self.remove_file(moved)
        else:
            self.fs.mv(moved, self.path(key))

    def modified(self, key: str) -> float | None:
        """When blob `key` was last written or touched (Unix seconds), or None when unknown or missing."""
        try:
            info = self.fs.info(self.path(key))
        except FileNotFoundError:
            return None
        return _timestamp(info)

    def remove_file(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(path)

    def _write(self, key: str, data: bytes) -> None:
        path = self.path(key)
        if self.fs.exists(path):
            # Mark it as just used: a sweep that finds no row for it yet leaves it alone for a grace period,
            # which covers an upload whose row is not committed yet (see sightline.service.cleanup).
            if self._local:
                with contextlib.suppress(OSError):
                    os.utime(path)
            return
        parent = path.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        if not self._needs_rename:
            self.fs.pipe_file(path, data)  # an object store publishes it whole or not at all
            return
        # Write beside the target, then rename: a reader sees the whole blob or none of it.
        temporary = f"{parent}/.{key}.{uuid.uuid4().hex}.tmp"
        try:
            self.fs.pipe_file(temporary, data)
            self.fs.mv(temporary, path)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(temporary)
            if isinstance(exc, OSError) and exc.errno in _FULL:
                raise StorageFullError(f"the blob store {self.url} is full: {exc.strerror}; free some space") from None
            raise

    def __repr__(self) -> str:
        return f"BlobStore({self.url!r})"
