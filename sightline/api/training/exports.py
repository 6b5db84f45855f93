"""Exporting an iteration's model, and serving the exported files."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Response

from sightline.api.context import WS, IterationId, ProjectId
from sightline.api.links import SignedLinks
from sightline.api.schemas import Export
from sightline.service import iterations

router = APIRouter()


# --- export -------------------------------------------------------------------------------------


def _onnx_export(links: SignedLinks, project_id: str, iteration_id: str, flavor: str | None = None) -> Export:
    download = links.export(project_id, iteration_id, "ONNX")
    return Export(platform="ONNX", status="Done", download_uri=download, flavor=flavor)


@router.get("/projects/{projectId}/iterations/{iterationId}/export", tags=["Iterations"])
def get_exports(ws: WS, links: SignedLinks, project_id: ProjectId, iteration_id: IterationId) -> list[Export]:
    """The iteration's exports: ONNX, Done, once ExportIteration built it (or its download was fetched);
    none before."""
    exported = iterations.is_exported(ws, project_id, iteration_id)
    return [_onnx_export(links, project_id, iteration_id)] if exported else []


@router.post("/projects/{projectId}/iterations/{iterationId}/export", tags=["Iterations"])
def export_iteration(
    ws: WS,
    links: SignedLinks,
    project_id: ProjectId,
    iteration_id: IterationId,
    platform: Annotated[str, Query()],
    flavor: str | None = None,
) -> Export:
    """Export a trained iteration to ONNX (the only platform; others answer 400), as Azure's ONNX export does.

    The download (`downloadUri`, signed, no key needed) is a zip of `model.onnx` (the backbone's image graph
    with the trained head and its calibration: preprocessed pixels in, calibrated `probabilities` out, the
    same as Sightline's own), `labels.txt` (the output columns' tags) and `sightline.json` (the preprocessing
    to apply: size, resize mode, mean/std, channel order, layout). The unknown score is not in the graph.
    Flavors ONNX10 and ONNX12 are accepted and give the same graph (sightline.json names its opset).
    """
    iterations.export_iteration(ws, project_id, iteration_id, platform, flavor)
    return _onnx_export(links, project_id, iteration_id, flavor)


@router.get(
    "/projects/{projectId}/artifacts",
    response_class=Response,
    tags=["Iterations"],
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The artifact's bytes."}},
)
def get_artifact(ws: WS, project_id: ProjectId, path: Annotated[str, Query()]) -> Response:
    """An artifact stored for the project, by its relative path (GetArtifact), as bytes.

    Sightline's artifacts are its exports: `i-{iterationId}/ONNX` is the zip that ExportIteration built,
    `i-{iterationId}/ONNX/model.onnx`, `.../labels.txt` and `.../sightline.json` the files in it. A path
    that names nothing stored (no export yet, another platform, an unknown file) answers 404 `NotFound`.
    """
    name, data = iterations.artifact(ws, project_id, path)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    headers = {"Content-Disposition": f'attachment; filename="{safe}"'}
    return Response(data, media_type="application/octet-stream", headers=headers)
