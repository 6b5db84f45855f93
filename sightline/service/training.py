"""Training: queue an iteration, and the job body a worker runs for it.

`start_training` only validates and queues (the answer is immediate, as in Custom Vision); a worker
(`sightline.service.worker`) claims the job and calls `run_training_job`, which records progress,
honours cancellation, and stores the trained model as a blob and its report on the iteration.

Over 400 lines, knowingly: the checks before queueing and the job body read the same project rows
and options (selected tags, test set, groups), which one module keeps in step.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from sightline.codes import ErrorCode
from sightline.errors import ConflictError, InvalidRequestError, NotEnoughImagesError, NotFoundError, SightlineError
from sightline.learn.rules import MIN_IMAGES_PER_TAG, image_count_warnings
from sightline.service.advanced import ADVANCED, check_fine_tunable, fine_tune_options
from sightline.service.projects import find_project_row
from sightline.service.tags import tag_not_found
from sightline.service.views import DuplicateChecks, IterationView
from sightline.service.workspace import Workspace
from sightline.store import (
    ClassificationType,
    Image,
    ImageMetadata,
    ImageTag,
    Iteration,
    IterationStatus,
    Project,
    TagType,
    lock_project,
    utcnow,
)

if TYPE_CHECKING:
    from sightline.classifier import DuplicatePairs

_ACTIVE = (IterationStatus.QUEUED, IterationStatus.TRAINING)


class TrainingCancelled(Exception):
    """Raised inside a running job when its cancellation was requested."""


@dataclass(frozen=True)
class TrainingOptions:
    """TrainProject's options. `selected_tags`: tag ids to train on (others are ignored, as on Azure);
    None: all. `training_type` Advanced fine-tunes the backbone first (`service.advanced`), within
    `reserved_budget_in_hours`, or `budget_seconds` when given (the CLI's `--budget`). No e-mail is ever sent."""

    selected_tags: tuple[str, ...] | None = None
    training_type: str = "Regular"
    reserved_budget_in_hours: int = 0
    notification_email_address: str | None = None
    budget_seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        stored: dict[str, Any] = {
            "trainingType": self.training_type,
            "reservedBudgetInHours": self.reserved_budget_in_hours,
        }
        if self.selected_tags is not None:
            stored["selectedTags"] = list(self.selected_tags)
        if self.notification_email_address:
            stored["notificationEmailAddress"] = self.notification_email_address
        if self.budget_seconds is not None:
            stored["budgetSeconds"] = self.budget_seconds
        return stored


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_options(project: Project, options: TrainingOptions) -> None:
    if options.training_type not in ("Regular", ADVANCED):
        raise InvalidRequestError(f"trainingType must be Regular or Advanced, not {options.training_type!r}")
    if options.training_type == ADVANCED and options.reserved_budget_in_hours < 1:
        raise InvalidRequestError(
            "Advanced training needs reservedBudgetInHours of at least 1",
            ErrorCode.BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining,
        )
    if options.training_type == ADVANCED:
        check_fine_tunable(project.domain)
    if options.notification_email_address is not None and not _EMAIL.match(options.notification_email_address):
        raise InvalidRequestError(
            f"not an e-mail address: {options.notification_email_address!r}", ErrorCode.BadRequestInvalidEmailAddress
        )
    if options.selected_tags is not None:
        known = {tag.id for tag in project.tags}
        missing = [t for t in options.selected_tags if t not in known]
        if missing:
            raise tag_not_found(project, *missing)
        if not options.selected_tags:
            raise InvalidRequestError(
                "selectedTags is empty: select at least one tag", ErrorCode.BadRequestTrainingValidationFailed
            )


@dataclass(frozen=True)
class TrainingSet:
    """What one iteration trains on: image blob keys (= sha256) and their tag names.

    `tag_names`: the tags training considers, in the project's order (all, or those selected).
    """

    keys: list[str]
    labels: list[list[str]]
    negative_tag: str | None
    tag_names: tuple[str, ...] = ()
    groups: list[str | None] | None = None  # the project's group-key metadata value per image

    def fingerprint(self, project: Project, test: TrainingSet | None = None, *, advanced: bool = False) -> str:
        """Equal fingerprints mean "training not needed". A changed test set (`test`) is a reason to
        train again: the user expects figures on the images they just set aside, and a new iteration
        (a head fit on cached embeddings) keeps each iteration's test report as it was when it finished.
        So is the other training type (`advanced`): Advanced after Regular on the same images is the
        comparison the performance page offers."""
        settings = [str(project.classification_type), project.domain, project.threshold, self._items()]
        if advanced:  # Regular: the fingerprint of earlier versions
            settings.append(["trainingType", ADVANCED])
        if self.groups is not None:  # declared groups change the evaluation: a reason to train again
            settings.append([project.group_key, sorted(zip(self.keys, map(str, self.groups), strict=True))])
        if test is not None and test.keys:  # no test set: the fingerprint of earlier versions
            settings.append(["test", test._items()])
        blob = json.dumps(settings)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _items(self) -> list:
        return sorted(zip(self.keys, (sorted(t) for t in self.labels), strict=True))


def iteration_view(iteration: Iteration) -> IterationView:
    return IterationView(
        id=iteration.id,
        project_id=iteration.project_id,
        name=iteration.name,
        status=IterationStatus(iteration.status),
        classification_type=str(iteration.classification_type),
        domain=iteration.domain,
        created=iteration.created,
        modified=iteration.modified,
        trained_at=iteration.trained_at,
        finished_at=iteration.finished_at,
        training_seconds=iteration.training_seconds,
        progress_phase=iteration.progress_phase,
        progress_done=iteration.progress_done,
        progress_total=iteration.progress_total,
        error=iteration.error,
        publish_name=iteration.publish_name,
        published_at=iteration.published_at,
        started_at=iteration.started_at,
        options=dict(iteration.options or {}),
        duplicate_checks=DuplicateChecks.from_json(iteration.duplicate_checks),
    )


def training_set(
    session: Session, project: Project, selected: Sequence[str] | None = None, *, test_set: bool = False
) -> TrainingSet:
    """Every tagged image of the project with its tags (untagged images are not trained on); the
    project's test set is left out (`test_set=True`: only the test set). With a group key, each image's
    value of that metadata key.

    With `selected` tag ids, only those tags count: other tags are dropped from each image, and an
    image left without a tag is not trained on (Azure's selectedTags).
    """
    chosen = set(selected) if selected is not None else None
    tags = [t for t in project.tags if chosen is None or t.id in chosen]
    has_tag = select(ImageTag.image_id).where(ImageTag.image_id == Image.id)
    if chosen is not None:
        has_tag = has_tag.where(ImageTag.tag_id.in_(chosen))
    images = session.scalars(
        select(Image)
        .where(Image.project_id == project.id, Image.test_set == test_set)
        .where(has_tag.exists())
        .options(selectinload(Image.tag_links).selectinload(ImageTag.tag))
        .order_by(Image.created, Image.id)
    ).all()
    negative = next((t.name for t in tags if t.type == TagType.NEGATIVE), None)
    groups = None
    if project.group_key:
        values = dict(
            session.execute(
                select(ImageMetadata.image_id, ImageMetadata.value)
                .join(Image)
                .where(Image.project_id == project.id, ImageMetadata.key == project.group_key)
            ).all()
        )
        groups = [values.get(image.id) for image in images]
    return TrainingSet(
        keys=[image.blob_key for image in images],
        labels=[
            [link.tag.name for link in image.tag_links if chosen is None or link.tag_id in chosen] for image in images
        ],
        negative_tag=negative,
        tag_names=tuple(t.name for t in tags),
        groups=groups,
    )


def _tag_counts(project: Project, data: TrainingSet) -> dict[str, int]:
    """Images per tag of the project (0 for a tag on no image), in the project's tag order."""
    counts: dict[str, int] = {name: 0 for name in data.tag_names}
    for labels in data.labels:
        for name in labels:
            counts[name] += 1
    return counts


def _validate(project: Project, data: TrainingSet) -> None:
    """Fail fast, at request time, on what training would reject anyway."""
    counts = _tag_counts(project, data)
    regular = {name: n for name, n in counts.items() if name != data.negative_tag}
    if not regular:
        raise InvalidRequestError(
            "the project has no tags yet: create tags and tag images first",
            ErrorCode.BadRequestTrainingValidationFailed,
        )
    short = {name: n for name, n in counts.items() if n < MIN_IMAGES_PER_TAG and (n > 0 or name in regular)}
    if short:
        listing = ", ".join(f"{name} ({n})" for name, n in sorted(short.items()))
        raise NotEnoughImagesError(
            f"every tag needs at least {MIN_IMAGES_PER_TAG} images to train; short: {listing}", short_tags=short
        )
    if project.classification_type == ClassificationType.MULTICLASS and len([n for n in counts.values() if n]) < 2:
        raise InvalidRequestError(
            "a Multiclass project needs at least two tags with images (a Negative tag counts)",
            ErrorCode.BadRequestMultiClassClassificationTrainingValidationFailed,
        )


def _check_can_train(session: Session, project: Project, data: TrainingSet, fingerprint: str, *, force: bool) -> None:
    """Everything that refuses a new iteration now: one running already, bad data, or nothing changed
    (the last completed iteration has this `fingerprint`)."""
    active = session.scalar(select(Iteration).where(Iteration.project_id == project.id, Iteration.status.in_(_ACTIVE)))
    if active is not None:
        raise ConflictError(
            f"{active.name} of this project is already {active.status}", ErrorCode.BadRequestTrainingAlreadyInProgress
        )
    _validate(project, data)
    last = session.scalar(
        select(Iteration)
        .where(Iteration.project_id == project.id, Iteration.status == IterationStatus.COMPLETED)
        .order_by(Iteration.created.desc())
        .limit(1)
    )
    if not force and last is not None and last.training_fingerprint == fingerprint:
        raise InvalidRequestError(
            f"training not needed: nothing changed since {last.name} (use force to train anyway)",
            ErrorCode.BadRequestTrainingNotNeeded,
        )


@dataclass(frozen=True)
class TrainingPreflight:
    """What training the project now would meet: images per tag, the refusal (if any), and warnings.

    `refusal` is the message `start_training` would raise, `refusal_code` its Custom Vision code
    ("BadRequestTrainingNotNeeded" is the one that `force` overrides). `warnings` are the engine's own
    (few images per tag, imbalance): training goes ahead, but the results are weaker.
    """

    tag_counts: dict[str, int]
    untagged_images: int
    refusal: str | None
    refusal_code: str | None
    warnings: list[str]


def preflight(ws: Workspace, project_id: str) -> TrainingPreflight:
    """Check, without queueing anything, what `start_training` and the engine would say about the project."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        data = training_set(session, project)
        counts = _tag_counts(project, data)
        untagged = (
            session.scalar(
                select(func.count()).select_from(Image).where(Image.project_id == project.id, ~Image.test_set)
            )
            or 0
        ) - len(data.keys)
        refusal = code = None
        try:
            test = training_set(session, project, test_set=True)
            _check_can_train(session, project, data, data.fingerprint(project, test), force=False)
        except SightlineError as error:
            refusal, code = str(error), error.code
    warnings = image_count_warnings({name: n for name, n in counts.items() if n > 0})
    return TrainingPreflight(counts, untagged, refusal, code, warnings)


def start_training(
    ws: Workspace, project_id: str, *, force: bool = False, options: TrainingOptions | None = None
) -> IterationView:
    """Validate and queue a new iteration. 'Training not needed' when nothing changed (unless forced)."""
    options = options or TrainingOptions()
    with ws.session() as session:
        project = find_project_row(session, project_id)
        lock_project(session, project.id)  # concurrent requests queue one iteration, named once
        session.refresh(project)
        _check_options(project, options)
        data = training_set(session, project, options.selected_tags)
        test = training_set(session, project, options.selected_tags, test_set=True)
        fingerprint = data.fingerprint(project, test, advanced=options.training_type == ADVANCED)
        _check_can_train(session, project, data, fingerprint, force=force)
        iteration = Iteration(
            project_id=project.id,
            name=_free_name(session, project.id),
            status=IterationStatus.QUEUED,
            classification_type=project.classification_type,
            domain=project.domain,
            training_fingerprint=fingerprint,
            options=options.to_json(),
        )
        session.add(iteration)
        try:
            session.flush()
        except IntegrityError:  # a writer that took no lock: the unique indexes still hold
            raise ConflictError(
                "another training of this project was queued at the same moment",
                ErrorCode.BadRequestTrainingAlreadyInProgress,
            ) from None
        return iteration_view(iteration)


def _score_test_set(ws: Workspace, classifier, test: TrainingSet, trained: TrainingSet, *, multilabel: bool) -> dict:
    """The trained classifier on the project's test set: the held-out report, with the images it
    covers, those left out (a tag the iteration did not train on, an unreadable image), and test images
    that near-duplicate a training image (leakage: they flatter the held-out figures; found by `fit`)."""
    labels = [labels[0] if not multilabel else labels for labels in test.labels]
    score = classifier.score(_BlobImages(ws, test.keys), labels, keys=test.keys, find_leaks=False)
    result = score.report.to_dict() if score.report is not None else {}
    result["image_keys"] = [test.keys[i] for i in score.scored]
    result["skipped_images"] = [{"key": test.keys[i], "error": message} for i, message in score.errors]
    scored = set(score.scored)
    leaks = classifier.duplicates_.leaks
    result["leaked_images"] = [[test.keys[t], trained.keys[i]] for t, i in leaks if t in scored]
    if result["leaked_images"]:
        result["warnings"] = [
            f"{len(result['leaked_images'])} test images near-duplicate training images: the held-out figures "
            "are flattered by them; move them to training or remove them."
        ]
    return result


def _free_name(session: Session, project_id: str) -> str:
    """`Iteration N`, N one more than the iterations so far, or the next number no iteration is named."""
    taken = set(session.scalars(select(Iteration.name).where(Iteration.project_id == project_id)))
    number = len(taken) + 1
    while f"Iteration {number}" in taken:
        number += 1
    return f"Iteration {number}"


class _BlobImages(Sequence[bytes]):
    """Image bytes fetched from the blob store only when the pipeline asks (cached ones never are)."""

    def __init__(self, ws: Workspace, keys: list[str]):
        self._ws, self._keys = ws, keys

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, index):
        return self._ws.blobs.get(self._keys[index])


class ProgressRecorder:
    """Writes progress to the iteration at most every `interval` s; raises TrainingCancelled when asked to stop.

    It checks the iteration's cancel flag itself, so Ctrl-C in `sightline train` stops training within a
    second instead of waiting for the worker's next heartbeat.
    """

    def __init__(self, ws: Workspace, iteration_id: str, should_continue: Callable[[], bool], interval: float = 0.5):
        self.ws, self.iteration_id, self.should_continue, self.interval = ws, iteration_id, should_continue, interval
        self._last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.should_continue():
            raise TrainingCancelled()
        now = time.monotonic()
        if now - self._last < self.interval and done < total:
            return
        self._last = now
        with self.ws.session() as session:
            iteration = session.get(Iteration, self.iteration_id)
            if iteration is None or iteration.cancel_requested:
                raise TrainingCancelled()
            iteration.progress_phase, iteration.progress_done, iteration.progress_total = phase, done, total


def run_training_job(ws: Workspace, iteration_id: str, should_continue: Callable[[], bool] = lambda: True) -> dict:
    """Train the iteration's project now; returns what to record on success (artifact key, report, ...).

    Raises TrainingCancelled when `should_continue()` turns False, and the engine's errors on failure.
    """
    from sightline.classifier import Classifier

    with ws.session() as session:
        iteration = session.get(Iteration, iteration_id)
        if iteration is None:
            raise NotFoundError(f"no iteration {iteration_id}", ErrorCode.NotFoundIteration)
        project = session.get_one(Project, iteration.project_id)
        selected = (iteration.options or {}).get("selectedTags")
        data = training_set(session, project, selected)
        test = training_set(session, project, selected, test_set=True)
        multilabel = project.classification_type == ClassificationType.MULTILABEL
        threshold, domain = project.threshold, iteration.domain
        fine_tune = fine_tune_options(iteration.options)
        fingerprint = data.fingerprint(project, test, advanced=fine_tune is not None)
        trained_names = {name for labels in data.labels for name in labels}
        tag_ids = {tag.name: tag.id for tag in project.tags if tag.name in trained_names}
    progress = ProgressRecorder(ws, iteration_id, should_continue)
    started = time.perf_counter()
    classifier = Classifier(
        domain,
        fine_tune=fine_tune,
        multilabel=multilabel,
        negative_tag=data.negative_tag,
        threshold=threshold,
        cache=ws.embedding_cache,
        limits=ws.image_limits,
    )
    labels = [labels[0] if not multilabel else labels for labels in data.labels]

    def record_duplicates(found: DuplicatePairs) -> None:
        checks = DuplicateChecks(
            conflicting_images=[(data.keys[i], data.keys[j]) for i, j in found.conflicts],
            leaked_images=[(test.keys[t], data.keys[i]) for t, i in found.leaks],
        )
        with ws.session() as session:
            session.get_one(Iteration, iteration_id).duplicate_checks = checks.to_json()

    classifier.fit(
        _BlobImages(ws, data.keys),
        labels,
        progress=progress,
        keys=data.keys,
        groups=data.groups,
        test_images=_BlobImages(ws, test.keys),
        test_keys=test.keys,
        on_duplicates=record_duplicates,
    )
    if not should_continue():
        raise TrainingCancelled()
    artifact_key = ws.blobs.put(classifier.to_bytes())
    report = classifier.evaluate().to_dict()
    report["warnings"] = classifier.warnings_
    report["skipped_images"] = [{"key": data.keys[i], "error": str(e)} for i, e in classifier.failures_]
    skipped = {i for i, _ in classifier.failures_}
    # per-image out-of-fold predictions are indexed over the images actually trained on
    report["image_keys"] = [key for i, key in enumerate(data.keys) if i not in skipped]
    report["tag_ids"] = tag_ids  # the report names tags; their ids find them again after a rename
    if classifier.fine_tune_ is not None:
        report["fine_tune"] = classifier.fine_tune_.to_dict()
    trained_keys = report["image_keys"]
    report["conflicting_images"] = [[trained_keys[i], trained_keys[j]] for i, j in report.get("conflicting_pairs", [])]
    test_report = _score_test_set(ws, classifier, test, data, multilabel=multilabel) if test.keys else None
    classifier.cache = None  # as a prediction model it embeds new photos once; see iterations.trained_model
    ws.remember_model(artifact_key, classifier)
    return {
        "artifact_key": artifact_key,
        "report": report,
        "test_report": test_report,
        "training_seconds": time.perf_counter() - started,
        "training_fingerprint": fingerprint,
        "trained_at": utcnow(),
    }
