"""Iterations: list, show, rename, cancel, delete, publish and unpublish; the trained model and its ONNX export."""

from __future__ import annotations

import io
import re
import zipfile
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from sightline.codes import ErrorCode
from sightline.errors import ConflictError, InvalidRequestError, NotFoundError, NotTrainedError
from sightline.service import cleanup
from sightline.service.projects import checked_name, find_project_row
from sightline.service.training import iteration_view
from sightline.service.views import IterationView
from sightline.service.workspace import Workspace
from sightline.store import Iteration, IterationStatus, Project, request_cancel, utcnow

if TYPE_CHECKING:
    from sightline.classifier import Classifier

_PUBLISH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def find_iteration_row(session: Session, project: Project, id_or_name: str | None = None) -> Iteration:
    """By id or name; None means the latest iteration of the project."""
    query = select(Iteration).where(Iteration.project_id == project.id)
    if id_or_name is None:
        iteration = session.scalar(query.order_by(Iteration.created.desc()).limit(1))
    else:
        iteration = session.get(Iteration, id_or_name)
        if iteration is None or iteration.project_id != project.id:
            iteration = session.scalar(query.where(Iteration.name == id_or_name))
    if iteration is None:
        what = "no iterations yet" if id_or_name is None else f"no iteration {id_or_name!r}"
        raise NotFoundError(f"project {project.name!r} has {what}", ErrorCode.NotFoundIteration)
    return iteration


def list_iterations(ws: Workspace, project_id: str) -> list[IterationView]:
    with ws.session() as session:
        project = find_project_row(session, project_id)
        rows = session.scalars(select(Iteration).where(Iteration.project_id == project.id).order_by(Iteration.created))
        return [iteration_view(i) for i in rows]


def completed_iterations(ws: Workspace, project_id: str) -> list[IterationView]:
    """Iterations with a trained model, oldest first: those that have performance figures and can predict."""
    return [i for i in list_iterations(ws, project_id) if i.status == IterationStatus.COMPLETED]


def get_iteration(ws: Workspace, project_id: str, iteration_id: str | None = None) -> IterationView:
    with ws.session() as session:
        return iteration_view(find_iteration_row(session, find_project_row(session, project_id), iteration_id))


def _trained_row(session: Session, project_id: str, iteration_id: str | None) -> Iteration:
    iteration = find_iteration_row(session, find_project_row(session, project_id), iteration_id)
    if iteration.status != IterationStatus.COMPLETED or not iteration.artifact_key:
        raise NotTrainedError(f"{iteration.name} is {iteration.status}: it has a model once training has completed")
    return iteration


def trained_iteration(ws: Workspace, project_id: str, iteration_id: str | None = None) -> IterationView:
    """The iteration, if it has completed training (NotTrainedError otherwise)."""
    with ws.session() as session:
        return iteration_view(_trained_row(session, project_id, iteration_id))


def trained_model(ws: Workspace, artifact_key: str, domain: str | None = None) -> Classifier:
    """The classifier stored under `artifact_key`, loaded once per workspace (kept, least recently used out).

    `domain` is the backbone the iteration trained on, as the project names it (`onnx:/path.onnx`): model
    files older than their `backbone_spec` only hold the backbone's display name, which may not load.
    """
    from sightline.classifier import Classifier

    model = ws.cached_model(artifact_key)
    if model is None:
        # No embedding cache here: new photos are rarely seen twice, and a write per prediction costs
        # a database commit (a reviewed prediction is embedded once more when it is trained on).
        data = ws.blobs.get(artifact_key)
        model = Classifier.from_bytes(data, backbone=domain, cache=None, limits=ws.image_limits)
        ws.remember_model(artifact_key, model)
    return model


#: What an iteration exports to: Custom Vision's platform names and, for each, the flavors accepted.
#: "ONNX" is the only platform: a zip of model.onnx, labels.txt and sightline.json (see `sightline.export`).
#: Azure's flavors ONNX10 and ONNX12 name older opsets for Windows ML; here they are accepted and give the same
#: graph, in the opset its backbone was exported with (sightline.json says which; the head needs opset 8+).
EXPORT_PLATFORMS = {"ONNX": (None, "ONNX10", "ONNX12")}
#: The export is derived from the model file, so it is stored once beside it (`BlobStore.put_derived`).
ONNX_EXPORT_SUFFIX = "onnx"


def check_export_platform(platform: str, flavor: str | None = None) -> None:
    """Refuse a platform (or flavor) Sightline cannot export to, naming what it can."""
    if platform not in EXPORT_PLATFORMS:
        raise InvalidRequestError(
            f"export platform {platform!r} is not supported: use ONNX",
            ErrorCode.BadRequestProjectUnsupportedExportPlatform,
        )
    if flavor not in EXPORT_PLATFORMS[platform]:
        flavors = ", ".join(f for f in EXPORT_PLATFORMS[platform] if f)
        raise InvalidRequestError(
            f"flavor {flavor!r} is not one of {platform}'s: {flavors} or none",
            ErrorCode.BadRequestProjectUnsupportedExportPlatform,
        )


def export_iteration(
    ws: Workspace, project_id: str, iteration_id: str, platform: str, flavor: str | None = None
) -> IterationView:
    """Export a trained iteration to `platform`; the export is built now and kept, so the download is ready."""
    check_export_platform(platform, flavor)
    exported_model(ws, project_id, iteration_id, platform)
    return trained_iteration(ws, project_id, iteration_id)


def is_exported(ws: Workspace, project_id: str, iteration_id: str, platform: str = "ONNX") -> bool:
    """Whether the iteration's `platform` export was built (by ExportIteration, or a first download)."""
    check_export_platform(platform)
    with ws.session() as session:
        row = find_iteration_row(session, find_project_row(session, project_id), iteration_id)
        artifact_key = row.artifact_key
    return artifact_key is not None and ws.blobs.exists(f"{artifact_key}.{ONNX_EXPORT_SUFFIX}")


def exported_model(ws: Workspace, project_id: str, iteration_id: str | None = None, platform: str = "ONNX") -> bytes:
    """The trained iteration as `platform`'s download: the ONNX zip of `sightline.export`, built once per model."""
    from sightline.export import export_onnx

    check_export_platform(platform)
    with ws.session() as session:
        row = _trained_row(session, project_id, iteration_id)
        artifact_key, domain = row.artifact_key, row.domain
    assert artifact_key is not None  # a trained row has its model
    export_key = f"{artifact_key}.{ONNX_EXPORT_SUFFIX}"
    if ws.blobs.exists(export_key):
        return ws.blobs.get(export_key)
    data = export_onnx(trained_model(ws, artifact_key, domain))
    ws.blobs.put_derived(artifact_key, ONNX_EXPORT_SUFFIX, data)
    return data


def rename_iteration(ws: Workspace, project_id: str, iteration_id: str, name: str) -> IterationView:
    name = checked_name(name, ws, "iteration")
    with ws.session() as session:
        project = find_project_row(session, project_id)
        iteration = find_iteration_row(session, project, iteration_id)
        clash = session.scalar(select(Iteration.id).where(Iteration.project_id == project.id, Iteration.name == name))
        if clash and clash != iteration.id:
            raise InvalidRequestError(
                f"another iteration is called {name!r}", ErrorCode.BadRequestIterationNameNotUnique
            )
        iteration.name = name
        session.flush()
        return iteration_view(iteration)


def cancel_training(ws: Workspace, project_id: str, iteration_id: str | None = None) -> IterationView:
    """Cancel a queued iteration at once, or ask a running one's worker to stop."""
    with ws.session() as session:
        iteration = find_iteration_row(session, find_project_row(session, project_id), iteration_id)
        if iteration.status not in (IterationStatus.QUEUED, IterationStatus.TRAINING):
            raise ConflictError(
                f"{iteration.name} is {iteration.status}; only queued or running training can be cancelled"
            )
        iteration_id = iteration.id
    with ws.session() as session:
        request_cancel(session, iteration_id)
    with ws.session() as session:
        return iteration_view(session.get_one(Iteration, iteration_id))


def delete_iteration(ws: Workspace, project_id: str, iteration_id: str) -> None:
    """Delete a finished iteration; published or running ones cannot be deleted."""
    with ws.session() as session:
        iteration = find_iteration_row(session, find_project_row(session, project_id), iteration_id)
        if iteration.publish_name:
            raise ConflictError(
                f"{iteration.name} is published as {iteration.publish_name!r}: unpublish it first",
                ErrorCode.BadRequestIterationIsPublished,
            )
        if iteration.status in (IterationStatus.QUEUED, IterationStatus.TRAINING):
            raise ConflictError(
                f"{iteration.name} is {iteration.status}: cancel it first",
                ErrorCode.BadRequestTrainingAlreadyInProgress,
            )
        artifact = iteration.artifact_key
        session.delete(iteration)
    if artifact:
        cleanup.forget_unreferenced(ws, [artifact])  # with its ONNX export


def publish_iteration(
    ws: Workspace, project_id: str, iteration_id: str, publish_name: str, *, overwrite: bool = False
) -> IterationView:
    """Make a completed iteration answer predictions under `publish_name` (several names may be live).

    `overwrite` takes the name from the iteration holding it; otherwise that is a conflict.
    """
    if not _PUBLISH_NAME.fullmatch(publish_name or ""):  # match() with `$` let a trailing newline through
        raise InvalidRequestError(
            f"invalid publish name {publish_name!r}: use letters, digits, '.', '_' and '-' (first a letter or digit)",
            ErrorCode.BadRequestInvalidPublishName,
        )
    with ws.session() as session:
        project = find_project_row(session, project_id)
        iteration = find_iteration_row(session, project, iteration_id)
        if iteration.status != IterationStatus.COMPLETED:
            raise InvalidRequestError(
                f"{iteration.name} is {iteration.status}, not Completed", ErrorCode.BadRequestIterationIsNotTrained
            )
        holder = session.scalar(
            select(Iteration).where(Iteration.project_id == project.id, Iteration.publish_name == publish_name)
        )
        if holder is not None and holder.id != iteration.id and overwrite:
            holder.publish_name, holder.published_at = None, None
            session.flush()
        elif holder is not None and holder.id != iteration.id:
            raise ConflictError(
                f"{publish_name!r} is already published from {holder.name}: unpublish it first",
                ErrorCode.BadRequestInvalidPublishName,
            )
        iteration.publish_name, iteration.published_at = publish_name, utcnow()
        session.flush()
        return iteration_view(iteration)


def unpublish_iteration(ws: Workspace, project_id: str, iteration_id: str) -> IterationView:
    with ws.session() as session:
        iteration = find_iteration_row(session, find_project_row(session, project_id), iteration_id)
        if not iteration.publish_name:
            raise InvalidRequestError(f"{iteration.name} is not published", ErrorCode.BadRequestIterationNotPublished)
        iteration.publish_name, iteration.published_at = None, None
        session.flush()
        return iteration_view(iteration)


#: GetArtifact's paths: `i-{iterationId}/ONNX` (the export zip) or `i-{iterationId}/ONNX/{file in the zip}`.
_ARTIFACT_PATH = re.compile(r"i-(?P<iteration>[^/]+)/(?P<platform>[^/]+)(?:/(?P<member>[^/]+))?")


def artifact(ws: Workspace, project_id: str, path: str) -> tuple[str, bytes]:
    """The stored artifact `path` names, as (file name, bytes): GetArtifact's answer.

    Sightline stores one kind of artifact per iteration, its export once ExportIteration (or a download) built
    it: `i-{iterationId}/ONNX` is the zip, `i-{iterationId}/ONNX/model.onnx` (or `labels.txt`,
    `sightline.json`) one file of it. Nothing is built here: an artifact not stored is NotFound, as in Azure.
    """
    match = _ARTIFACT_PATH.fullmatch(path.strip("/"))
    missing = NotFoundError(
        f"no artifact at {path!r}: artifacts are i-{{iterationId}}/ONNX (the exported zip) or "
        "i-{iterationId}/ONNX/model.onnx, labels.txt, sightline.json, once the iteration is exported"
    )
    if not match or match["platform"].upper() != "ONNX":
        raise missing
    with ws.session() as session:
        row = find_iteration_row(session, find_project_row(session, project_id), match["iteration"])
        export_key = f"{row.artifact_key}.{ONNX_EXPORT_SUFFIX}" if row.artifact_key else None
    if export_key is None or not ws.blobs.exists(export_key):
        raise missing
    data = ws.blobs.get(export_key)
    if match["member"] is None:
        return f"sightline-onnx-{match['iteration']}.zip", data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if match["member"] not in archive.namelist():
            raise missing
        return match["member"], archive.read(match["member"])
