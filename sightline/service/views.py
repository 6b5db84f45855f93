"""What the service returns: plain dataclasses, detached from the database session.

The CLI prints them, the API turns them into Custom Vision's camelCase JSON, the web UI renders them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sightline.codes import ImageStatus, IterationStatus
from sightline.learn.decisions import Reason


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
    status: ImageStatus
    image: ImageView | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (ImageStatus.OK, ImageStatus.OKDuplicate)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ImageStatus(self.status))  # a plain string from a caller becomes the enum

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
    status: IterationStatus
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

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "status", IterationStatus(self.status)
        )  # a plain string from a caller becomes the enum

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScoredTag:
    """One tag's probability for an image (out of fold, in an iteration's performance views)."""

    tag_id: str | None  # None: the tag was deleted since
    tag_name: str
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PredictedTag(ScoredTag):
    """One tag of a prediction: its probability, the threshold it is held to, and whether it reaches it."""

    above_threshold: bool = False
    threshold: float = 0.5

    @classmethod
    def from_dict(cls, data: dict[str, Any], threshold: float) -> PredictedTag:
        """A stored row; rows stored before per-tag thresholds were held to the project's `threshold`."""
        probability = float(data["probability"])
        limit = float(data.get("threshold", threshold))
        above = bool(data.get("above_threshold", probability >= limit))
        return cls(data.get("tag_id"), str(data["tag_name"]), probability, above, limit)


@dataclass(frozen=True)
class PredictionView:
    """A prediction as returned and, when stored, as kept for review."""

    id: str
    project_id: str
    iteration_id: str | None
    created: datetime
    predictions: list[PredictedTag]  # high to low
    threshold: float  # the project's one threshold (each tag's own is in `predictions`)
    uncertain: bool
    unknown_score: float
    unknown: bool
    reasons: list[Reason] = field(default_factory=list)  # why uncertain
    stored: bool = False
    reviewed: bool = False

    def __post_init__(self) -> None:
        rows = [
            p if isinstance(p, PredictedTag) else PredictedTag.from_dict(p, self.threshold) for p in self.predictions
        ]
        object.__setattr__(self, "predictions", rows)  # a stored row (a dict) becomes typed
        object.__setattr__(self, "reasons", [r if isinstance(r, Reason) else Reason.from_dict(r) for r in self.reasons])

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reasons": [r.to_dict() for r in self.reasons]}  # a reason's unused fields left out


@dataclass(frozen=True)
class ImageFile:
    """Image bytes to hand out, with their media type (e.g. "image/jpeg")."""

    data: bytes
    media_type: str


@dataclass(frozen=True)
class MetadataUpdate:
    """One image of a metadata update: `status` is "OK" or Custom Vision's error ("ErrorImageNotFound" ...)."""

    image_id: str
    status: ImageStatus
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ImageStatus(self.status))  # a plain string from a caller becomes the enum

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
    predictions: list[ScoredTag]  # high to low

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
