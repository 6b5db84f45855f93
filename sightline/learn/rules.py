"""How many images training needs: the minimum per tag, and what earns a warning.

Kept apart from the training code (and free of scikit-learn), so that the service and the CLI can
check a project before training without importing the machine-learning stack.
"""

from __future__ import annotations

from sightline.errors import NotEnoughImagesError

MIN_IMAGES_PER_TAG = 5
RECOMMENDED_IMAGES_PER_TAG = 15
MAX_IMBALANCE_RATIO = 2.0


def check_image_counts(counts: dict[str, int]) -> list[str]:
    """Raise NotEnoughImagesError for tags under the minimum; return warnings for weak data."""
    short = {tag: n for tag, n in counts.items() if n < MIN_IMAGES_PER_TAG}
    if short:
        listing = ", ".join(f"{tag!r} ({n})" for tag, n in short.items())
        raise NotEnoughImagesError(
            f"Every tag needs at least {MIN_IMAGES_PER_TAG} images; add images to: {listing}.", short
        )
    return image_count_warnings(counts)


def image_count_warnings(counts: dict[str, int]) -> list[str]:
    """Warnings for data that trains but weakly: tags under the recommended count, or imbalanced tags."""
    if not counts:
        return []
    warnings = []
    few = {tag: n for tag, n in counts.items() if n < RECOMMENDED_IMAGES_PER_TAG}
    if few:
        listing = ", ".join(f"{tag!r} ({n})" for tag, n in few.items())
        warnings.append(
            f"Tags with fewer than {RECOMMENDED_IMAGES_PER_TAG} images give less reliable results: {listing}."
        )
    largest, smallest = max(counts, key=lambda t: counts[t]), min(counts, key=lambda t: counts[t])
    if counts[largest] > MAX_IMBALANCE_RATIO * counts[smallest]:
        warnings.append(
            f"The tags are imbalanced: {largest!r} has {counts[largest]} images and {smallest!r} only "
            f"{counts[smallest]}; the rare tags will be recognised less reliably."
        )
    return warnings
