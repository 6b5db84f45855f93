"""Image arguments: files as given, folders walked for image files. Shared by `tag`, `predict` and `test`."""

from __future__ import annotations

from pathlib import Path

from sightline.errors import ImageNotFoundError


def image_paths(inputs: list[Path]) -> list[Path]:
    """Files as given (a bad one is reported, not skipped); folders walked for image files, sorted.

    Hidden files in folders are skipped: `._photo.jpg` is macOS metadata, not a photo.
    """
    from sightline.imaging import IMAGE_SUFFIXES, is_image_name  # lazy: `sightline --help` stays fast

    paths: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if is_image_name(p.name) and p.is_file())
            if not found:
                raise ImageNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {item}")
            paths += found
        else:
            paths.append(item)
    return paths
