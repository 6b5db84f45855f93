"""What the duplicate search said, as sentences: one per kind, with its count. The CLI adds the
command that lists the pairs, the web pages a link to them."""

from __future__ import annotations

from dataclasses import dataclass

from sightline.service.views import DuplicateChecks


@dataclass(frozen=True)
class DuplicateWarning:
    kind: str  # "conflict" or "leak" (service.duplicates.CONFLICT / LEAK)
    count: int
    text: str


def duplicate_warnings(checks: DuplicateChecks | None) -> list[DuplicateWarning]:
    """Label conflicts first (they mislead training), then leakage (it flatters the held-out figures)."""
    if checks is None:
        return []
    said = []
    if n := len(checks.conflicting_images):
        pairs, error = ("pair of near-duplicate images carries", "a labelling error") if n == 1 else (
            "pairs of near-duplicate images carry", "labelling errors")  # fmt: skip
        said.append(DuplicateWarning("conflict", n, f"{n} {pairs} different tags: probably {error}"))
    if n := len(checks.leaked_images):
        images, verb = ("test image", "copies") if n == 1 else ("test images", "copy")
        said.append(
            DuplicateWarning(
                "leak", n, f"{n} {images} nearly {verb} a training image: the held-out figures are flattered"
            )
        )
    return said
