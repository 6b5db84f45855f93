"""What the service returns: plain dataclasses, detached from the database session.

The CLI prints them, the API turns them into Custom Vision's camelCase JSON, the web UI renders them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ProjectView:
    id: str
    name: str
    description: str
    classification_type: str
    domain: str
    threshold: float
    created: datetime
    modified: datetime
    image_count: int = 0
    tag_count: int = 0
    latest_iteration: str | None = None
    #: Azure's settings kept as sent: targetExportPlatforms, imageProcessingSettings.
    settings: dict[str, Any] = field(default_factory=dict)
    group_key: str | None = None  # image-metadata key whose equal values form cross-validation groups
    test_image_count: int = 0  # images in the project's test set (never trained on)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TagView:
    id: str
    name: str
    description: str
    type: str
    image_count: int
    created: datetime

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImageView:
    id: str
    sha256: str
    width: int
    height: int
    format: str
    size_bytes: int
    created: datetime
    original_name: str | None
    tags: list[TagView] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    test_set: bool = False  # in the project's test set: never trained on

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImageAddResult:
    """One uploaded image: `status` is "OK", "OKDuplicate" or an error code, as Custom Vision reports."""

    source: str
    status: str
    image: ImageView | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("OK", "OKDuplicate")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DuplicateChecks:
    """What the duplicate search found when an iteration's training started, as image keys (sha256).

    `conflicting_images`: pairs of near-duplicate training images with different tags (one of the two
    is probably mislabelled); `leaked_images`: (test image, training image) pairs, a test image that
    near-duplicates one trained on (it flatters the held-out figures).
    """

    conflicting_images: list[tuple[str, str]] = field(default_factory=list)
    leaked_images: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_json(cls, stored: dict[str, Any] | None) -> DuplicateChecks | None:
        if stored is None:
            return None
        return cls(*([(str(a), str(b)) for a, b in stored.get(name) or []] for name in _DUPLICATE_KINDS))

    def to_json(self) -> dict[str, Any]:
        return {name: [list(pair) for pair in getattr(self, name)] for name in _DUPLICATE_KINDS}


_DUPLICATE_KINDS = ("conflicting_images", "leaked_images")


@dataclass(frozen=True)
class IterationView:
    id: str
    project_id: str
    name: str
    status: str
    classification_type: str
    domain: str
    created: datetime
    modified: datetime
    trained_at: datetime | None
    finished_at: datetime | None
    training_seconds: float | None
    progress_phase: str | None
    progress_done: int
    progress_total: int
    error: str | None
    publish_name: str | None
    published_at: datetime | None
    started_at: datetime | None = None  # when a worker took it up: the start of its elapsed time
    #: What TrainProject asked for: selectedTags (tag ids), trainingType, reservedBudgetInHours,
    #: notificationEmailAddress.
    options: dict[str, Any] = field(default_factory=dict)
    #: Label conflicts and test-set leakage found when training started (None: not searched yet).
    duplicate_checks: DuplicateChecks | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PredictionView:
    """A prediction as returned and, when stored, as kept for review."""

    id: str
    project_id: str
    iteration_id: str | None
    created: datetime
    predictions: list[dict[str, Any]]  # [{tag_id, tag_name, probability, above_threshold, threshold}]
    threshold: float  # the project's one threshold (each tag's own is in `predictions`)
    uncertain: bool
    unknown_score: float
    unknown: bool
    reasons: list[dict[str, Any]] = field(default_factory=list)  # why uncertain: `sightline.learn.decisions.Reason`
    stored: bool = False
    reviewed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImageFile:
    """Image bytes to hand out, with their media type (e.g. "image/jpeg")."""

    data: bytes
    media_type: str


@dataclass(frozen=True)
class MetadataUpdate:
    """One image of a metadata update: `status` is "OK" or Custom Vision's error ("ErrorImageNotFound" ...)."""

    image_id: str
    status: str
    metadata: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImagePerformanceView:
    """A training image with the out-of-fold probabilities an iteration's evaluation gave it.

    `trained_tags` are the image's tags as that iteration trained on them, under the names they had then
    (tags deleted since are left out; see `performance.trained_tags`). `image.tags` are the same.
    """

    image: ImageView
    trained_tags: list[TagView]
    predictions: list[dict[str, Any]]  # [{tag_id, tag_name, probability}], high to low

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
