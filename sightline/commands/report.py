"""`sightline report`: an iteration's evaluation as one self-contained HTML page.

Charts and thumbnails are embedded as data URIs, so the page opens anywhere, offline, and can be
attached to a ticket. The page is a Jinja2 template (`sightline/templates/report.html.j2`).
"""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

import sightline
from sightline.commands.context import ProjectArg, open_workspace
from sightline.commands.render import console, fail, percent, when
from sightline.errors import SightlineError
from sightline.imaging import make_thumbnail
from sightline.reporting import performance
from sightline.reporting.duplicates import duplicate_warnings
from sightline.service import IterationStatus, Workspace, duplicates, images, projects
from sightline.service.views import IterationView, ProjectView

DUPLICATES_SHOWN = 24  # pairs with thumbnails; `iterations show --duplicates` lists them all


def report(
    project: ProjectArg,
    iteration: Annotated[
        str | None, typer.Argument(help="Iteration id or name (default: the latest).", show_default=False)
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    mistakes: Annotated[int, typer.Option(min=0, max=500, help="How many of the worst mistakes to show.")] = 24,
) -> None:
    """Write an HTML report: figures, per-tag table, PR curves, confusion matrix, calibration, worst mistakes."""
    with open_workspace() as ws:
        project_view = projects.get_project(ws, project)
        view, data = performance.iteration_report(ws, project, iteration)
        held_out = performance.test_set_report(ws, project, view.id)
        if view.status != IterationStatus.COMPLETED or not data:
            fail(f"{view.name} is {view.status}: there is no evaluation to report yet")
        worst = performance.mistakes(data, mistakes)
        found = duplicates.duplicate_report(ws, project, view.id)
        keys = [m.image_key for m in worst if m.image_key]
        keys += [key for pair in found.pairs[:DUPLICATES_SHOWN] for key in (pair.first_key, pair.second_key)]
        thumbnails = {key: _thumbnail(ws, key) for key in dict.fromkeys(keys)}
    write_page(out, render_page(project_view, view, data, worst, thumbnails, held_out, found))


def render_page(
    project: ProjectView,
    iteration: IterationView,
    data: performance.Report,
    worst: list[performance.Outcome],
    thumbnails: dict[str, str | None],
    held_out: performance.Report | None = None,
    found: duplicates.DuplicateReport | None = None,
    *,
    source: str | None = None,
    skipped: int = 0,
) -> str:
    """The report page as HTML text (no I/O: the caller fetched the thumbnails); `held_out`: the
    iteration's figures on the project's test set, shown beside the cross-validated ones; `found`:
    its label conflicts and test leaks (the first DUPLICATES_SHOWN pairs, with thumbnails). `source`: the
    folder or CSV that `sightline evaluate` scored `data` on (`skipped` images left out), instead of the
    cross-validated report."""
    import jinja2

    from sightline.reporting import figures

    rows = performance.tag_rows(data)
    curves = performance.curves(data)
    before, after = performance.reliability(data, "before"), performance.reliability(data, "after")
    charts = {
        "pr_curves": figures.pr_curves(curves, rows) if curves else None,
        "confusion": figures.confusion(
            data.confusion_matrix,
            data.tags,
            "Confusion matrix" if source else "Confusion matrix (out-of-fold)",
        )
        if data.confusion_matrix and not data.multilabel
        else None,
        "reliability": figures.reliability(before, after, data.ece_before_calibration, data.ece_after_calibration)
        if before or after
        else None,
    }
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("sightline", "templates"), autoescape=True, undefined=jinja2.ChainableUndefined
    )
    environment.filters["spread"] = percent
    return environment.get_template("report.html.j2").render(
        project=project,
        iteration=iteration,
        report=data,
        overall=performance.overall(data),
        tag_rows=rows,
        charts=charts,
        mistakes=worst,
        thumbnails=thumbnails,
        estimate_basis=performance.estimate_basis(data),
        held_out=held_out or None,
        held_out_basis=performance.held_out_basis(held_out) if held_out else None,
        side_by_side=performance.side_by_side(data, held_out) if held_out else [],
        trained=when(iteration.trained_at),
        generated=when(datetime.now().astimezone()),
        version=sightline.__version__,
        duplicates=found,
        duplicate_warnings=duplicate_warnings(found.checks) if found else [],
        duplicates_shown=DUPLICATES_SHOWN,
        source=source,
        skipped=skipped,
    )


def _thumbnail(ws: Workspace, image_key: str) -> str | None:
    """The JPEG thumbnail of a training image as a data URI; None when the image is gone."""
    try:
        data = images.blob_rendition(ws, image_key, "thumbnail").data
    except (FileNotFoundError, ValueError):  # deleted since training, or not a blob key
        return None
    return _data_uri(data)


def file_thumbnail(path: Path) -> str | None:
    """The thumbnail of an image file as a data URI; None when it cannot be read (it was scored, so rarely)."""
    try:
        return _data_uri(make_thumbnail(path.read_bytes()))
    except (OSError, SightlineError):
        return None


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def write_page(out: Path, page: str, *, say: bool = True) -> None:
    """Write the page, or fail in one line (a missing folder, no permission, a full disk); `say`: print
    where it went (not when stdout carries JSON)."""
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    if say:
        console.print(f"wrote {out} ({len(page) // 1024} KiB)", markup=False)
