"""`sightline tags ...`: the categories of a project (Regular, or the one Negative "none of these")."""

from __future__ import annotations

from typing import Annotated

import typer

from sightline.commands.context import AsJson, ProjectArg, Yes, confirm_or_stop, open_workspace
from sightline.commands.render import Column, console, fail, print_record, print_rows
from sightline.service import tags

app = typer.Typer(help="Create, list, rename, merge, describe and delete the tags of a project.", no_args_is_help=True)

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


TagRef = Annotated[str, typer.Argument(help="Tag id or name.", show_default=False)]


@app.command("rename")
def rename(
    project: ProjectArg,
    tag: TagRef,
    new_name: Annotated[str, typer.Argument(help="The new name, unique in the project.", show_default=False)],
    as_json: AsJson = False,
) -> None:
    """Rename a tag; its images keep it (to fold it into an existing tag, use `merge`)."""
    with open_workspace() as ws:
        before = tags.get_tag(ws, project, tag)
        view = tags.update_tag(ws, project, before.id, name=new_name)
    if as_json:
        print_record(view, COLUMNS, as_json=True)
    else:
        console.print(f"renamed tag {before.name!r} to {view.name!r} ({view.image_count} images)", markup=False)


@app.command("update")
def update(
    project: ProjectArg,
    tag: TagRef,
    name: Annotated[str | None, typer.Option(help="A new name.", show_default=False)] = None,
    description: Annotated[str | None, typer.Option(help="Free text.", show_default=False)] = None,
    as_json: AsJson = False,
) -> None:
    """Change a tag's name or description."""
    if name is None and description is None:
        fail("nothing to change: give --name or --description", code=2)
    with open_workspace() as ws:
        before = tags.get_tag(ws, project, tag)
        view = tags.update_tag(ws, project, before.id, name=name, description=description)
    if as_json:
        print_record(view, COLUMNS, as_json=True)
    else:
        console.print(f"updated tag {view.name!r}", markup=False)


@app.command("merge")
def merge(
    project: ProjectArg,
    tag: Annotated[str, typer.Argument(help="The tag to fold in (it is deleted).", show_default=False)],
    into: Annotated[str, typer.Argument(help="The tag that receives its images.", show_default=False)],
    as_json: AsJson = False,
) -> None:
    """Move every image of TAG to INTO and delete TAG ("shoees" into "shoes")."""
    with open_workspace() as ws:
        source = tags.get_tag(ws, project, tag)
        view = tags.merge_tags(ws, project, source.id, into)
    if as_json:
        print_record(view, COLUMNS, as_json=True)
    else:
        console.print(
            f"merged {source.name!r} ({source.image_count} images) into {view.name!r}, now on {view.image_count}",
            markup=False,
        )


@app.command("delete")
def delete(project: ProjectArg, tag: TagRef, yes: Yes = False) -> None:
    """Delete a tag; its images stay in the project, without it."""
    with open_workspace() as ws:
        view, orphans = tags.delete_impact(ws, project, tag)
        if view.image_count:
            confirm_or_stop(
                f"delete tag {view.name!r} from its {view.image_count} images ({orphans} of them would have no tag"
                " left; no image is deleted)",
                yes=yes,
            )
        tags.delete_tag(ws, project, view.id)
    console.print(f"deleted tag {view.name!r} (it was on {view.image_count} images)", markup=False)
