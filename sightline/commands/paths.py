"""Image arguments: files as given, folders walked for image files. Shared by `tag`, `predict` and `test`."""

from __future__ import annotations

from pathlib import Path

from sightline.errors import ImageNotFoundError
from sightline.service.importing import IMAGE_SUFFIXES


def image_paths(inputs: list[Path]) -> list[Path]:
    """Files as given (a bad one is reported, not skipped); folders walked for image files, sorted.

    Hidden files in folders are skipped: `._photo.jpg` is macOS metadata, not a photo.
    """
    paths: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(
                p
                for p in item.rglob("*")
                if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
            )
            if not found:
                raise ImageNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {item}")
            paths += found
        else:
            paths.append(item)
    return paths
