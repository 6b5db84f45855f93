"""`sightline migrate`: copy Custom Vision projects from Azure (or another Custom Vision-compatible server)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from sightline.commands.context import AsJson, open_workspace
from sightline.commands.render import console, print_json, progress_bar

if TYPE_CHECKING:
    from rich.progress import TaskID


def migrate(
    endpoint: Annotated[
        str, typer.Option(help="The Custom Vision resource, e.g. https://NAME.cognitiveservices.azure.com")
    ],
    training_key: Annotated[
        str, typer.Option(help="The resource's Training-Key.", envvar="CUSTOM_VISION_TRAINING_KEY")
    ],
    project: Annotated[
        list[str] | None, typer.Option(help="A project name or id to copy (repeatable). Default: all of them.")
    ] = None,
    backbone: Annotated[str, typer.Option(help="The backbone new projects train with.")] = "default",
    train: Annotated[bool, typer.Option("--train", help="Queue training of each project once copied.")] = False,
    as_json: AsJson = False,
) -> None:
    """Copy projects, tags, images (original bytes, metadata) and iteration figures from Custom Vision.

    Resumable: run it again after an interruption and it copies only what is missing. Images that fail
    are listed; the others carry on.
    """
    from sightline.migration import migrate as run_migration

    with open_workspace() as ws, progress_bar() as bar:
        tasks: dict[str, TaskID] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        reports = run_migration(
            ws, endpoint, training_key, projects_wanted=project, backbone=backbone, train=train, progress=progress
        )
    if as_json:
        print_json([asdict(r) for r in reports])
        return
    for r in reports:
        console.print(
            f"{r.name}: {r.copied} image(s) copied, {r.already} already here, {len(r.errors)} failed"
            + (f"; training: {r.training}" if r.training else ""),
            markup=False,
        )
        for image_id, reason in r.errors:
            console.print(f"  {image_id}: {reason}", markup=False)
    if any(r.errors for r in reports):
        raise typer.Exit(1)
