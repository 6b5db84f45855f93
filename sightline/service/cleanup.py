"""Blobs no row refers to any more: removed when their rows are deleted, and swept by `sightline gc`.

Blobs are content-addressed and shared: the same photo uploaded to two projects is one blob, and a
stored prediction may keep the same bytes. A blob goes only when no image, prediction or iteration
refers to it. An upload writes its blob before its row, so a blob with no row may belong to an upload
still in flight: `collect_garbage` leaves a blob touched within `grace_seconds` alone (writing existing
bytes again touches the file), and the next sweep takes it if its upload never committed (a killed
process). Deleting rows removes their blobs at once (`forget_unreferenced`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from sightline.service.workspace import Workspace
from sightline.store import Image, Iteration, Prediction

#: How long a blob with no row is presumed to belong to an upload still being committed.
DEFAULT_GRACE_SECONDS = 600.0
#: Keys checked per query (SQLite allows 32,766 bound parameters; stay far below).
_CHUNK = 500


@dataclass(frozen=True)
class SweepReport:
    """What `collect_garbage` found: files removed, and the bytes they held, and files kept (in grace)."""

    removed: int
    removed_bytes: int
    kept_recent: int


def referenced(ws: Workspace, keys: Iterable[str]) -> set[str]:
    """Those of `keys` that some image, stored prediction or iteration refers to."""
    wanted = list(dict.fromkeys(keys))
    found: set[str] = set()
    with ws.session() as session:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for column in (Image.blob_key, Prediction.image_key, Iteration.artifact_key):
                found.update(session.scalars(select(column).where(column.in_(chunk)).distinct()))
    return found


def forget_unreferenced(ws: Workspace, keys: Iterable[str]) -> int:
    """Remove each of `keys` (with its thumbnails and exports) that no row refers to; returns how many.

    Called after the rows were deleted and committed. Another project may be committing an upload of the
    same bytes meanwhile, so a blob is first moved aside, the references are read again, and it comes
    back if a row appeared; the uploader, for its part, rewrites its blob if it finds it gone after its
    commit (`images.add_images`). Either way a committed row never points at a missing blob.
    """
    keys = [key for key in dict.fromkeys(keys) if key]
    if not keys:
        return 0
    candidates = [key for key in keys if key not in referenced(ws, keys)]
    aside = {key: ws.blobs.move_aside(key) for key in candidates}
    back = referenced(ws, candidates)
    removed = 0
    for key, moved in aside.items():
        if moved is None:
            continue
        if key in back:
            ws.blobs.restore(key, moved)
        else:
            ws.blobs.remove_file(moved)
            ws.blobs.delete_with_derived(key)
            removed += 1
    return removed


def collect_garbage(
    ws: Workspace, grace_seconds: float = DEFAULT_GRACE_SECONDS, *, dry_run: bool = False
) -> SweepReport:
    """Remove every blob (and temporary file) that no row refers to and that is older than `grace_seconds`.

    Safe while the server runs: an upload in flight wrote or touched its blob within the grace period.
    """
    cutoff = time.time() - grace_seconds
    files = list(ws.blobs.listing())
    used = referenced(ws, {f.base_key for f in files if f.base_key})
    removed = removed_bytes = kept = 0
    for stored in files:
        if stored.base_key in used:
            continue
        if stored.modified is not None and stored.modified >= cutoff:
            kept += 1
            continue
        size = ws.blobs.fs.size(stored.path) or 0
        if not dry_run:
            ws.blobs.remove_file(stored.path)
        removed, removed_bytes = removed + 1, removed_bytes + size
    return SweepReport(removed, removed_bytes, kept)
