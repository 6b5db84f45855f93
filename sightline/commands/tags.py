"""`sightline tags ...`: the categories of a project (Regular, or the one Negative "none of these")."""

from __future__ import annotations

from typing import Annotated

import typer

from sightline.commands.context import AsJson, ProjectArg, open_workspace
from sightline.commands.render import Column, console, print_record, print_rows
from sightline.service import tags

app = typer.Typer(help="Create, list and delete the tags of a project.", no_args_is_help=True)

COLUMNS: list[Column] = [
    Column("name", lambda t: t.name),
    Column("type", lambda t: t.type),
    Column("images", lambda t: t.image_count),
    Column("description", lambda t: t.description),
]


@app.command("create")
def create(
    project: ProjectArg,
    name: Annotated[str, typer.Argument(help="Tag name, unique in the project (ignoring case).", show_default=False)],
    negative: Annotated[
        bool, typer.Option("--negative", help='The "none of these" tag: images that show none of the others.')
    ] = False,
    description: Annotated[str, typer.Option(help="Free text.")] = "",
    as_json: AsJson = False,
) -> None:
    """Create a tag."""
    with open_workspace() as ws:
        tag = tags.create_tag(ws, project, name, description=description, type="Negative" if negative else "Regular")
    if as_json:
        print_record(tag, COLUMNS, as_json=True)
    else:
        console.print(f"created {tag.type} tag {tag.name!r} ({tag.id})", markup=False)


@app.command("list")
def list_(project: ProjectArg, as_json: AsJson = False) -> None:
    """List the tags of a project with their image counts."""
    with open_workspace() as ws:
        rows = tags.list_tags(ws, project)
    print_rows(rows, COLUMNS, as_json=as_json, empty="no tags yet: `sightline tags create PROJECT NAME`")


@app.command("delete")
def delete(
    project: ProjectArg,
    tag: Annotated[str, typer.Argument(help="Tag id or name.", show_default=False)],
) -> None:
    """Delete a tag; its images stay, without it."""
    with open_workspace() as ws:
        view = tags.get_tag(ws, project, tag)
        tags.delete_tag(ws, project, view.id)
    console.print(f"deleted tag {view.name!r} (it was on {view.image_count} images)", markup=False)
