"""`sightline export`: a trained iteration as the ONNX zip the API and the web offer (model.onnx, labels.txt,
sightline.json), built by the same service (`iterations.exported_model`)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from sightline.commands.context import ProjectArg, open_workspace
from sightline.commands.render import console, fail
from sightline.service import Workspace, iterations, projects
from sightline.service.views import IterationView


def export(
    project: ProjectArg,
    iteration: Annotated[
        str | None, typer.Option("--iteration", "-i", help="Iteration id or name (default: the latest trained).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Zip file to write (default: <project>-<iteration>.zip).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")] = False,
) -> None:
    """Export a trained iteration as an ONNX zip, to run without Sightline (see sightline.json inside)."""
    with open_workspace() as ws:
        found = projects.get_project(ws, project)
        chosen = _iteration(ws, found.id, iteration)
        target = output or Path(_file_name(f"{found.name}-{chosen.name}") + ".zip")
        if target.is_dir():
            fail(f"{target} is a folder: give a file name with --output")
        if target.exists() and not force:
            fail(f"{target} exists: pass --force to replace it, or choose another --output")
        data = iterations.exported_model(ws, found.id, chosen.id)
    _write_whole(target, data)
    console.print(f"exported {chosen.name} of {found.name} to {target} ({len(data) / 1e6:.1f} MB)", markup=False)


def _iteration(ws: Workspace, project_id: str, reference: str | None) -> IterationView:
    if reference is not None:
        return iterations.get_iteration(ws, project_id, reference)
    completed = iterations.completed_iterations(ws, project_id)
    if not completed:
        fail("no trained iteration to export: run `sightline train` first")
    return completed[-1]


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "model"


def _write_whole(target: Path, data: bytes) -> None:
    """Written to a temporary file beside the target, then renamed: a failure leaves no partial zip."""
    if not target.parent.is_dir():
        fail(f"folder {target.parent} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        fail(f"cannot write {target}: {error.strerror or error}")
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
