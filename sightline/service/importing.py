"""Importing labelled images from disk: a folder per class, or a CSV of paths and tags.

Conventions users already have: `root/<tag>/*.jpg` (Keras, torchvision's ImageFolder, Ultralytics),
optionally under `train/`, `val/`/`validation/`, `test/`; and for multi-label a CSV `path,tags` with
tags separated by `;`, or one 0/1 column per tag, optionally with a `split` column. Images of the
`test` split go to the project's test set (never trained on, used to evaluate each iteration);
train and validation images are trained on. Tags are created as needed. Re-running an import
adds nothing twice (images are deduplicated by content); unreadable files are listed, not fatal.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sightline.codes import ImageStatus
from sightline.errors import InvalidRequestError
from sightline.imaging import is_image_name
from sightline.service.images import NewImage, add_images
from sightline.service.tags import create_tag, list_tags
from sightline.service.workspace import Workspace

SPLIT_FOLDERS = {"train", "val", "valid", "validation", "test"}
TEST_SPLIT = "test"
_BATCH = 64

Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    added: int = 0
    test_images: int = 0  # of those added, how many went to the test set
    duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    tags_created: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"added": self.added, "test_images": self.test_images, "duplicates": self.duplicates,
                "tags_created": self.tags_created,
                "failed": [{"path": p, "reason": r} for p, r in self.failed]}  # fmt: skip


@dataclass(frozen=True)
class ImportItem:
    """One image to import: its file, its tags, and whether it belongs to the test set."""

    path: Path
    tags: list[str]
    test_set: bool = False


def folder_items(root: Path, splits: set[str] | None = None) -> list[ImportItem]:
    """Items for `root/<tag>/*` or `root/<split>/<tag>/*` (all splits unless `splits`); images under
    `test/` go to the test set."""
    if not root.is_dir():
        raise InvalidRequestError(f"{root} is not a folder")
    children = [d for d in sorted(root.iterdir()) if d.is_dir()]
    if children and all(d.name.lower() in SPLIT_FOLDERS for d in children):
        chosen = [d for d in children if splits is None or d.name.lower() in splits]
        return [
            ImportItem(item.path, item.tags, test_set=split.name.lower() == TEST_SPLIT)
            for split in chosen
            for item in folder_items(split)
        ]
    items = [
        ImportItem(path, [folder.name])
        for folder in children
        for path in sorted(folder.rglob("*"))
        if is_image_name(path.name) and path.is_file()
    ]
    if not items:
        raise InvalidRequestError(f"no images found under {root}: expected {root}/<tag>/<image files>")
    return items


def csv_items(path: Path) -> list[ImportItem]:
    """Rows of `path,tags` (tags `;`-separated) or `path,<tag1>,<tag2>,...` with 0/1 cells; a `split`
    column (train, val, validation, test; empty: train) may sit anywhere after `path`."""
    if not path.is_file():
        raise InvalidRequestError(f"{path} does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError:
        raise InvalidRequestError(f"{path} is not a UTF-8 text CSV file") from None
    except csv.Error as error:
        raise InvalidRequestError(f"{path} is not a readable CSV file: {error}") from None
    if not rows or not rows[0] or rows[0][0].strip().lower() not in ("path", "file", "filename", "image"):
        raise InvalidRequestError(f"{path}: the first row must be a header starting with `path`")
    header = [h.strip() for h in rows[0]]
    splits = _split_column(path, header, rows)
    if splits is not None:
        column = [h.lower() for h in header].index("split")
        header = header[:column] + header[column + 1 :]
        rows = [rows[0]] + [row[:column] + row[column + 1 :] for row in rows[1:]]
    base = path.parent
    items = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not row[0].strip():
            continue
        image = (base / row[0].strip()).resolve()
        if len(header) == 2 and header[1].lower() == "tags":
            tags = [t.strip() for t in (row[1] if len(row) > 1 else "").split(";") if t.strip()]
        else:
            cells = row[1:] + [""] * (len(header) - len(row))
            bad = [c for c in cells if c.strip() not in ("", "0", "1")]
            if bad:
                raise InvalidRequestError(f"{path}, line {line}: tag columns hold 0 or 1, found {bad[0]!r}")
            tags = [name for name, cell in zip(header[1:], cells, strict=False) if cell.strip() == "1"]
        items.append(ImportItem(image, tags, test_set=splits is not None and splits[line] == TEST_SPLIT))
    return items


def _split_column(path: Path, header: list[str], rows: list[list[str]]) -> dict[int, str] | None:
    """Line number -> split of each row, from a `split` column (None without one). Unknown values are
    refused, all of them named, before anything is imported."""
    lowered = [h.lower() for h in header]
    if "split" not in lowered[1:]:
        return None
    column = lowered.index("split")
    splits: dict[int, str] = {}
    bad: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        value = (row[column] if column < len(row) else "").strip().lower() or "train"
        if value not in SPLIT_FOLDERS:
            bad.setdefault(value, line)
        splits[line] = value
    if bad:
        listing = ", ".join(f"{value!r} (line {line})" for value, line in bad.items())
        raise InvalidRequestError(
            f"{path}: unknown split {listing}; use one of {', '.join(sorted(SPLIT_FOLDERS))} (empty: train)"
        )
    return splits


def import_items(
    ws: Workspace, project_id: str, items: list[ImportItem], progress: Progress | None = None
) -> ImportReport:
    """Upload items in batches, creating missing tags first."""
    report = ImportReport()
    known = {t.name.casefold() for t in list_tags(ws, project_id)}
    for name in dict.fromkeys(tag for item in items for tag in item.tags):
        if name.casefold() not in known:
            create_tag(ws, project_id, name)
            known.add(name.casefold())
            report.tags_created.append(name)
    done = 0
    for start in range(0, len(items), _BATCH):
        batch = []
        for item in items[start : start + _BATCH]:
            try:
                batch.append(
                    NewImage(item.path.read_bytes(), name=str(item.path), tags=item.tags, test_set=item.test_set)
                )
            except OSError as error:
                report.failed.append((str(item.path), f"cannot read: {error.strerror or error}"))
        for new, result in zip(batch, add_images(ws, project_id, batch), strict=True):
            if result.status == ImageStatus.OK:
                report.added += 1
                report.test_images += new.test_set
            elif result.status == ImageStatus.OKDuplicate:
                report.duplicates += 1
            else:
                report.failed.append((result.source, result.message or result.status))
        done += len(items[start : start + _BATCH])
        if progress:
            progress(done, len(items))
    return report
