"""`sightline migrate`: copy Custom Vision projects (from Azure, or any server that speaks its Training API).

    report = migrate(ws, "https://westus.api.cognitive.microsoft.com", training_key, projects=["Parts"])

For each project: the project (name, description, classification type; the backbone given here), its
tags (name, description, Regular/Negative), its tagged and untagged images with their metadata (pages
of `take`/`skip`, original bytes through `originalImageUri`), and each completed iteration's precision,
recall and average precision, kept in the project's settings as `azureBaseline`.

Resumable and idempotent: each copied image keeps `azure:<source image id>` as its original name, in
the same transaction as the image, so a re-run (after a kill, say) skips what is already here and copies
only the rest. An image that cannot be copied is listed in the report and the others carry on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from sightline.codes import ErrorCode, ImageStatus, IterationStatus
from sightline.errors import InvalidRequestError, NotFoundError, SightlineError
from sightline.service import Workspace, images, projects, tags, training
from sightline.service.images import NewImage

#: Custom Vision's largest page of images.
PAGE = 256
SOURCE_PREFIX = "azure:"
API = "customvision/v3.3/training"


class MigrationSourceError(SightlineError):
    """The source cannot be read: a wrong endpoint or key, or it is not a Custom Vision Training API."""

    code = ErrorCode.BadRequestMigrationSource


@dataclass
class ProjectReport:
    """What one project's copy did: images copied now, already here before, failed (source id, reason)."""

    name: str
    project_id: str
    copied: int = 0
    already: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    baseline: list[dict[str, Any]] = field(default_factory=list)
    training: str | None = None


class CustomVisionSource:
    """The Training API of a Custom Vision resource, read-only, with plain messages for the usual mistakes."""

    def __init__(self, endpoint: str, training_key: str, *, timeout: float = 60.0):
        self.endpoint = endpoint.rstrip("/")
        self.client = httpx.Client(
            base_url=f"{self.endpoint}/{API}", headers={"Training-Key": training_key}, timeout=timeout
        )

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, **params: Any) -> Any:
        try:
            answer = self.client.get(path, params=params)
        except httpx.HTTPError as error:
            raise MigrationSourceError(f"cannot reach {self.endpoint}: {error}") from None
        if answer.status_code in (401, 403):
            raise MigrationSourceError(f"{self.endpoint} refused the training key (HTTP {answer.status_code})")
        if answer.status_code == 404 and path == "/projects":
            raise MigrationSourceError(f"{self.endpoint} does not answer Custom Vision's Training API v3.3")
        if answer.status_code >= 400:
            raise MigrationSourceError(
                f"{self.endpoint} answered {answer.status_code} to GET {path}: {answer.text[:200]}"
            )
        try:
            return answer.json()
        except ValueError:
            raise MigrationSourceError(f"{self.endpoint} answered GET {path} with something that is not JSON") from None

    def projects(self) -> list[dict[str, Any]]:
        return self.get("/projects")

    def images(self, project_id: str) -> Iterator[dict[str, Any]]:
        """Tagged, then untagged images, page by page (oldest first, so that pages stay put while copying)."""
        for kind in ("tagged", "untagged"):
            skip = 0
            while True:
                page = self.get(f"/projects/{project_id}/images/{kind}", take=PAGE, skip=skip, orderBy="Oldest")
                yield from page
                if len(page) < PAGE:
                    break
                skip += PAGE

    def image_count(self, project_id: str) -> int:
        tagged = self.get(f"/projects/{project_id}/images/tagged/count")
        return int(tagged) + int(self.get(f"/projects/{project_id}/images/untagged/count"))

    def download(self, url: str) -> bytes:
        answer = httpx.get(url, timeout=self.client.timeout, follow_redirects=True)
        answer.raise_for_status()
        return answer.content


def _chosen(source_projects: list[dict[str, Any]], wanted: Sequence[str] | None) -> list[dict[str, Any]]:
    if not wanted:
        return source_projects
    chosen = []
    for ref in wanted:
        match = [p for p in source_projects if ref in (p["id"], p["name"])]
        if not match:
            raise NotFoundError(f"no project {ref!r} at the source", ErrorCode.NotFoundProject)
        chosen.append(match[0])
    return chosen


def _local_project(ws: Workspace, source: dict[str, Any], backbone: str) -> str:
    try:
        return projects.get_project(ws, source["name"]).id
    except NotFoundError:
        kind = (source.get("settings") or {}).get("classificationType") or "Multiclass"
        if kind not in ("Multiclass", "Multilabel"):
            raise InvalidRequestError(f"project {source['name']!r} is {kind}: only classification is copied") from None
        return projects.create_project(
            ws, source["name"], description=source.get("description") or "", classification_type=kind, domain=backbone
        ).id


def _copy_tags(ws: Workspace, src: CustomVisionSource, source_id: str, project_id: str) -> dict[str, str]:
    """Source tag id -> local tag id, creating the tags that are missing (by name, ignoring case)."""
    local = {t.name.casefold(): t.id for t in tags.list_tags(ws, project_id)}
    mapping = {}
    for tag in src.get(f"/projects/{source_id}/tags"):
        if tag["name"].casefold() not in local:
            made = tags.create_tag(
                ws, project_id, tag["name"], description=tag.get("description") or "", type=tag.get("type") or "Regular"
            )
            local[tag["name"].casefold()] = made.id
        mapping[tag["id"]] = local[tag["name"].casefold()]
    return mapping


def _baseline(src: CustomVisionSource, source_id: str) -> list[dict[str, Any]]:
    """Each completed source iteration's precision, recall and AP (at the source's default threshold)."""
    rows = []
    for iteration in src.get(f"/projects/{source_id}/iterations"):
        if iteration.get("status") != IterationStatus.COMPLETED:
            continue
        figures = src.get(f"/projects/{source_id}/iterations/{iteration['id']}/performance")
        rows.append(
            {
                "iteration": iteration["name"],
                "publishName": iteration.get("publishName"),
                "precision": figures.get("precision"),
                "recall": figures.get("recall"),
                "averagePrecision": figures.get("averagePrecision"),
            }
        )
    return rows


def check_source(endpoint: str, training_key: str, projects_wanted: Sequence[str] | None = None) -> list[str]:
    """The names of the projects `migrate` would copy; raises at once for a wrong endpoint, key or name.

    For callers that run `migrate` in the background (the web form) and must say what is wrong now.
    """
    src = CustomVisionSource(endpoint, training_key, timeout=20.0)
    try:
        return [p["name"] for p in _chosen(src.projects(), projects_wanted)]
    finally:
        src.close()


def migrate(
    ws: Workspace,
    endpoint: str,
    training_key: str,
    *,
    projects_wanted: Sequence[str] | None = None,
    backbone: str = "default",
    train: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[ProjectReport]:
    """Copy the source's projects (all, or those named or with these ids) into `ws`; see the module docstring.

    `progress(project name, images done, images total)` is called after each image.
    """
    src = CustomVisionSource(endpoint, training_key)
    try:
        reports = []
        for source in _chosen(src.projects(), projects_wanted):
            project_id = _local_project(ws, source, backbone)
            report = ProjectReport(source["name"], project_id)
            tag_map = _copy_tags(ws, src, source["id"], project_id)
            done_ids = {n[len(SOURCE_PREFIX) :] for n in images.original_names(ws, project_id, SOURCE_PREFIX)}
            total = src.image_count(source["id"])
            for index, image in enumerate(src.images(source["id"]), start=1):
                if image["id"] in done_ids:
                    report.already += 1
                else:
                    _copy_image(ws, src, project_id, image, tag_map, report)
                if progress is not None:
                    progress(source["name"], index, total)
            report.baseline = _baseline(src, source["id"])
            projects.update_project(ws, project_id, settings={"azureBaseline": report.baseline or None})
            if train:
                try:
                    report.training = training.start_training(ws, project_id).name
                except SightlineError as error:
                    report.training = f"not started: {error}"
            reports.append(report)
        return reports
    finally:
        src.close()


def _copy_image(
    ws: Workspace,
    src: CustomVisionSource,
    project_id: str,
    image: dict[str, Any],
    tag_map: dict[str, str],
    report: ProjectReport,
) -> None:
    try:
        data = src.download(image["originalImageUri"])
    except (httpx.HTTPError, KeyError, TypeError) as error:
        report.errors.append((image.get("id", "?"), f"download failed: {error}"))
        return
    own_tags = [tag_map[t["tagId"]] for t in image.get("tags") or () if t["tagId"] in tag_map]
    new = NewImage(data, name=f"{SOURCE_PREFIX}{image['id']}", tags=own_tags, metadata=image.get("metadata") or {})
    try:
        (result,) = images.add_images(ws, project_id, [new])
    except SightlineError as error:
        report.errors.append((image["id"], str(error)))
        return
    if result.status == ImageStatus.OK:
        report.copied += 1
    elif result.status == ImageStatus.OKDuplicate:
        report.already += 1  # the same bytes were here already (under another name)
    else:
        report.errors.append((image["id"], result.message or result.status))
