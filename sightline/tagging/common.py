"""The types and constants the tagging modules share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from sightline.vocabulary import Vocabulary

Mode = Literal["multilabel", "single"]
Progress = Callable[[int, int], None]
VocabularyInput = Vocabulary | Mapping[str, Sequence[str]] | Sequence[str] | str | Path | None

#: Captions that name nothing: CLIP-family tags are scored against them (see the module docstring).
NEUTRAL_PROMPTS: tuple[str, ...] = (
    "a photo.",
    "a picture.",
    "an image.",
    "a photo of something.",
    "a photo of an object.",
    "a close-up photo.",
)
CALIBRATION_FORMAT = "sightline-tag-calibration"
_EPS = 1e-6
