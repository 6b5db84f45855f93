"""`sightline projects ...`: create, list, show and delete projects."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from sightline.commands.context import AsJson, ProjectArg, Yes, confirm_or_stop, open_workspace
from sightline.commands.render import ID_COLUMN, Column, console, fail, print_record, print_rows
from sightline.service import projects
from sightline.service.views import ProjectView

app = typer.Typer(help="Create, list, show and delete projects.", no_args_is_help=True)


class ClassificationType(StrEnum):
    MULTICLASS = "Multiclass"
    MULTILABEL = "Multilabel"


COLUMNS: list[Column] = [
    Column("name", lambda p: p.name),
    Column("type", lambda p: p.classification_type),
    Column("domain", lambda p: p.domain),
    Column("tags", lambda p: p.tag_count),
    Column("images", lambda p: p.image_count),
    Column("latest iteration", lambda p: p.latest_iteration),
]

FIELDS: list[Column] = [
    Column("name", lambda p: p.name),
    ID_COLUMN,
    Column("description", lambda p: p.description),
    Column("type", lambda p: p.classification_type),
    Column("domain", lambda p: p.domain),
    Column("threshold", lambda p: f"{p.threshold:g}"),
    Column("tags", lambda p: p.tag_count),
    Column("images", lambda p: p.image_count),
    Column("group key", lambda p: p.group_key or "(none: near-duplicates only)"),
    Column("test images", lambda p: p.test_image_count),
    Column("latest iteration", lambda p: p.latest_iteration or "(not trained yet)"),
    Column("created", lambda p: p.created, no_wrap=True),
    Column("modified", lambda p: p.modified),
]


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A unique project name.", show_default=False)],
    classification_type: Annotated[
        ClassificationType,
        typer.Option("--type", case_sensitive=False, help="Multiclass: one tag per image. Multilabel: any number."),
    ] = ClassificationType.MULTICLASS,
    domain: Annotated[str, typer.Option(help="Backbone (image encoder); see `sightline backbones`.")] = "default",
    description: Annotated[str, typer.Option(help="Free text.")] = "",
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Probability from which a tag counts as predicted.")
    ] = 0.5,
    group_key: Annotated[
        str | None,
        typer.Option(
            "--group-key",
            help="Image-metadata key (e.g. item, part_id, session) whose equal values are shots of one thing: "
            "cross-validation keeps them on one side of every fold.",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Create a project."""
    with open_workspace() as ws:
        project = projects.create_project(
            ws,
            name,
            description=description,
            classification_type=classification_type.value,
            domain=projects.check_domain(domain),
            threshold=threshold,
            group_key=group_key,
        )
    if as_json:
        print_record(project, FIELDS, as_json=True)
    else:
        console.print(f"created {project.classification_type} project {project.name!r} ({project.id})", markup=False)


@app.command("update")
def update(
    project: ProjectArg,
    name: Annotated[str | None, typer.Option(help="A new, unique name.", show_default=False)] = None,
    description: Annotated[str | None, typer.Option(help="Free text.", show_default=False)] = None,
    threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Probability from which a tag counts as predicted.", show_default=False),
    ] = None,
    domain: Annotated[
        str | None,
        typer.Option(help="A new backbone: every image is embedded again at the next training.", show_default=False),
    ] = None,
    group_key: Annotated[
        str | None,
        typer.Option(
            "--group-key",
            help='Image-metadata key whose equal values stay on one side of every fold ("" for none).',
            show_default=False,
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Change a project's name, description, threshold, domain or group key."""
    if all(v is None for v in (name, description, threshold, domain, group_key)):
        fail("nothing to change: give --name, --description, --threshold, --domain or --group-key", code=2)
    with open_workspace() as ws:
        before = projects.get_project(ws, project)
        spec = projects.check_domain(domain) if domain is not None else None
        view = projects.update_project(
            ws, before.id, name=name, description=description, threshold=threshold, domain=spec, group_key=group_key
        )
    if as_json:
        print_record(view, FIELDS, as_json=True)
        return
    console.print(f"updated project {view.name!r}", markup=False)
    if spec is not None and spec != before.domain:
        console.print(
            f"domain {before.domain} -> {spec}: every image is embedded again at the next training", markup=False
        )


@app.command("list")
def list_(as_json: AsJson = False) -> None:
    """List the projects, oldest first."""
    with open_workspace() as ws:
        rows = projects.list_projects(ws)
    print_rows(rows, COLUMNS, as_json=as_json, empty="no projects yet: `sightline projects create NAME`")


@app.command("show")
def show(project: ProjectArg, as_json: AsJson = False) -> None:
    """Show one project."""
    with open_workspace() as ws:
        view = projects.get_project(ws, project)
    print_record(view, FIELDS, as_json=as_json)


@app.command("delete")
def delete(
    project: ProjectArg,
    yes: Yes = False,
) -> None:
    """Delete a project with its tags, images, iterations and stored predictions."""
    with open_workspace() as ws:
        view: ProjectView = projects.get_project(ws, project)
        confirm_or_stop(
            f"delete project {view.name!r} with its {view.image_count} images and {view.tag_count} tags", yes=yes
        )
        projects.delete_project(ws, view.id)
    console.print(f"deleted project {view.name!r}", markup=False)
