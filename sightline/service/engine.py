"""The engine's objects as front ends reach them: which backbones exist, what `default` means here,
loading one, and pre-built taggers. The CLI, the API and the web go through here, never to
`sightline.backbones` or `sightline.tagging` themselves (DESIGN.md: front ends call the service).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sightline.backbones import PACKAGED_DEFAULT, default_backbone_name, list_backbones, resolve_backbone_name

if TYPE_CHECKING:  # the types front ends annotate with, named here so that they import the service only
    from sightline.tagging import Tagger as Tagger
    from sightline.tagging import TagResult as TagResult

__all__ = [
    "PACKAGED_DEFAULT",
    "default_backbone_name",
    "default_tagger",
    "list_backbones",
    "load_backbone",
    "new_tagger",
    "resolve_backbone_name",
]


def load_backbone(name: str) -> None:
    """Load backbone `name` once (the registry keeps it); ModelNotFoundError, with how to get it, when missing."""
    from sightline.backbones import create_backbone

    create_backbone(name)


def new_tagger(backbone: Any = "default", **options: Any) -> Tagger:
    """A pre-built tagger on `backbone` (a name or a loaded backbone); `options` as `sightline.tagging.Tagger`."""
    from sightline.tagging import Tagger  # lazy: embedding a vocabulary needs the model code

    return Tagger(backbone, **options)


def default_tagger(configured: str | None, domains: Sequence[str]) -> Tagger:
    """The tagger on the configured backbone, else on the first domain that can tag, else the default backbone."""
    from sightline.backbones import create_backbone

    if configured:
        return new_tagger(configured)
    for name in domains:
        backbone = create_backbone(name)
        if backbone.has_text or backbone.task == "classification":
            return new_tagger(backbone)
    return new_tagger(default_backbone_name())
