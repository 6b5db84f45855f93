"""`sightline evaluate`: score an iteration on a labelled folder or CSV, without storing the images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from sightline.commands.context import AsJson, ProjectArg, open_workspace
from sightline.commands.render import console, fail, print_json, print_report
from sightline.service import evaluation, importing

_ERRORS_SHOWN = 20


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
