"""`sightline evaluate`: score an iteration on a labelled folder or CSV, without storing the images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from sightline.commands.context import AsJson, ProjectArg, open_workspace
from sightline.commands.render import console, fail, print_json, print_report
from sightline.commands.report import file_thumbnail, render_page, write_page
from sightline.reporting import performance
from sightline.service import evaluation, importing, projects
from sightline.service.report import StoredReport
from sightline.service.views import ProjectView

_ERRORS_SHOWN = 20
MISTAKES_SHOWN = 24


def evaluate(
    project: ProjectArg,
    source: Annotated[
        Path,
        typer.Argument(
            help="A folder with one sub-folder per tag (split folders are all read), or a CSV as "
            "`images import` reads it.",
            show_default=False,
        ),
    ],
    iteration: Annotated[
        str | None, typer.Option("--iteration", "-i", help="Iteration id or name (default: the latest).")
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html", help="Also write the report as one HTML page: charts and the worst mistakes.", dir_okay=False
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Score an iteration on labelled images it never saw; the images are not added to the project.

    Images that cannot be read, or whose tags the iteration did not train on, are listed and left out.
    """
    if source.is_dir():
        items = importing.folder_items(source)
    elif source.suffix.lower() == ".csv":
        items = importing.csv_items(source)
    else:
        fail(f"{source} is neither a folder nor a .csv file")
    with open_workspace() as ws:
        result = evaluation.evaluate_items(ws, project, items, iteration)
        project_view = projects.get_project(ws, project)
    if as_json:
        print_json(result.to_dict())
    else:
        console.print(Text(f"{result.iteration.name} on {source}"))
        for path, message in result.errors[:_ERRORS_SHOWN]:
            console.print(Text(f"  left out {path}: {message}"))
        if len(result.errors) > _ERRORS_SHOWN:
            console.print(Text(f"  ... and {len(result.errors) - _ERRORS_SHOWN} more (see --json)"))
        if result.summary is not None:
            print_report(result.summary, title=f"scored on {result.summary.n_images} images never trained on")
    if not result.report:
        fail(f"none of the {len(items)} images could be scored")
    if html is not None:
        _write_html(html, project_view, result, source, say=not as_json)


def _write_html(out: Path, project: ProjectView, result: evaluation.Evaluation, source: Path, *, say: bool) -> None:
    """The same page as `sightline report`, about the scored images: its mistakes show their files."""
    data = StoredReport.from_dict({**result.report, "image_keys": result.report["image_paths"]})
    assert data is not None  # only called once some image was scored
    worst = performance.mistakes(data, MISTAKES_SHOWN)
    thumbnails = {m.image_key: file_thumbnail(Path(m.image_key)) for m in worst if m.image_key}
    page = render_page(
        project, result.iteration, data, worst, thumbnails, source=str(source), skipped=len(result.errors)
    )
    write_page(out, page, say=say)
