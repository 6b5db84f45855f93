"""Image-text models we know and recommend, with their licences and published zero-shot accuracy.

Published figures are ImageNet-1k zero-shot top-1 from each model's paper or card; CPU speeds are
measured by `benchmarks/backbone_speed.py` and written to the README, not hard-coded here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    license: str
    zero_shot_imagenet: float | None
    source: str
    has_text: bool = True


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        "hf:google/siglip2-base-patch32-256", "Apache-2.0", 0.740, "SigLIP 2 paper, arXiv:2502.14786, Table 1"
    ),
    CatalogEntry(
        "hf:google/siglip2-base-patch16-224", "Apache-2.0", 0.782, "SigLIP 2 paper, arXiv:2502.14786, Table 1"
    ),
    CatalogEntry("hf:google/siglip-base-patch16-224", "Apache-2.0", 0.762, "SigLIP paper, arXiv:2303.15343"),
    CatalogEntry("hf:openai/clip-vit-base-patch32", "MIT", 0.632, "CLIP paper, arXiv:2103.00020, Table 11"),
    CatalogEntry("hf:openai/clip-vit-base-patch16", "MIT", 0.683, "CLIP paper, arXiv:2103.00020, Table 11"),
    CatalogEntry("hf:facebook/dinov2-small", "Apache-2.0", None, "image-only: no text tower", has_text=False),
)
