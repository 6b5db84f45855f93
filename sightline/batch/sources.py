"""What a batch job reads: folders, globs, `s3://` prefixes and CSV manifests, expanded to image paths.

A path is a string an fsspec filesystem opens: a local path, or a URL (`s3://bucket/key`). S3 takes
its endpoint and keys from the same settings as the blob store (`sightline.store.storage_options`).
"""

from __future__ import annotations

import csv
import functools
import glob
import io
import os
from collections.abc import Iterable, Sequence

from sightline.errors import ImageNotFoundError, InvalidRequestError
from sightline.imaging import is_image_name
from sightline.store import open_filesystem

#: Column of a CSV manifest that holds the paths (else the first column).
MANIFEST_COLUMN = "path"


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def expand_sources(sources: Sequence[str]) -> list[str]:
    """Every image path the sources name, in order, without duplicates.

    A folder or prefix yields its image files (hidden ones skipped), sorted; a glob its matches; a
    `.csv` file the paths it lists (relative ones are relative to the manifest). A source that
    matches nothing is an error: a typo should not produce an empty, successful run.
    """
    paths: list[str] = []
    for source in sources:
        found = _expand(source)
        if not found:
            raise InvalidRequestError(f"{source} holds no images")
        paths.extend(found)
    return list(dict.fromkeys(paths))


def _expand(source: str) -> list[str]:
    if source.lower().endswith(".csv"):
        return _manifest(source)
    if is_remote(source):
        return _remote(source)
    if any(ch in source for ch in "*?["):
        return sorted(p for p in glob.glob(source, recursive=True) if os.path.isfile(p))
    if os.path.isdir(source):
        return sorted(
            os.path.join(root, name)
            for root, dirs, names in os.walk(source)
            for name in names
            if is_image_name(name)
            if not any(part.startswith(".") for part in os.path.relpath(root, source).split(os.sep) if part != ".")
        )
    if os.path.isfile(source):
        return [source]
    raise ImageNotFoundError(f"{source} does not exist")


def _remote(source: str) -> list[str]:
    fs, root = open_filesystem(source)
    protocol = source.split("://", 1)[0]
    if any(ch in root for ch in "*?["):
        names: Iterable[str] = fs.glob(root)
    elif fs.isfile(root):
        names = [root]
    else:
        names = fs.find(root)
    return sorted(f"{protocol}://{name}" for name in names if is_image_name(name))


def _manifest(source: str) -> list[str]:
    text = read_path(source).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    column = header.index(MANIFEST_COLUMN) if MANIFEST_COLUMN in header else 0
    body = rows[1:] if MANIFEST_COLUMN in header else rows
    base = source.rsplit("/", 1)[0] if is_remote(source) else os.path.dirname(os.path.abspath(source))
    paths = []
    for row in body:
        if len(row) <= column or not row[column].strip():
            continue
        path = row[column].strip()
        if not is_remote(path) and not os.path.isabs(path):
            path = f"{base}/{path}" if is_remote(base) else os.path.join(base, path)
        paths.append(path)
    return paths


@functools.cache
def _filesystem(protocol: str):
    """One client per protocol and process: making one per image would cost more than the read."""
    return open_filesystem(f"{protocol}://")[0]


def read_path(path: str, max_bytes: int | None = None) -> bytes:
    """The bytes at `path` (local or URL); a missing or unreadable one is an `ImageNotFoundError`."""
    try:
        if not is_remote(path):
            with open(path, "rb") as file:
                return file.read(-1 if max_bytes is None else max_bytes + 1)
        fs = _filesystem(path.split("://", 1)[0])
        return fs.cat_file(fs._strip_protocol(path))  # a ranged read of an empty object fails: read it whole
    except FileNotFoundError:
        raise ImageNotFoundError(f"'{path}' does not exist") from None
    except OSError as exc:
        raise ImageNotFoundError(f"'{path}' cannot be read: {exc}") from None
