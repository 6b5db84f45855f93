"""`sightline images ...`: upload, import, list, tag, untag and delete the training images of a project."""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from sightline.codes import ImageStatus
from sightline.commands.context import AsJson, ProjectArg, Yes, confirm_or_stop, open_workspace
from sightline.commands.render import (
    ID_COLUMN,
    Column,
    console,
    err_console,
    fail,
    print_json,
    print_rows,
    progress_bar,
)
from sightline.errors import ImageError
from sightline.imaging import read_bytes
from sightline.service import images, importing, projects, tags
from sightline.service.images import NewImage
from sightline.service.views import ImageAddResult

app = typer.Typer(help="Upload, import, list, tag and delete training images.", no_args_is_help=True)

_BATCH = 64  # images per upload transaction: bounded memory, and one failure does not void a whole folder
_FAILURES_SHOWN = 20

TagOption = Annotated[list[str], typer.Option("--tag", "-t", help="Tag id or name (repeat for several).")]  # required
ImageIds = Annotated[list[str], typer.Argument(help="Image ids (see `sightline images list`).", show_default=False)]

COLUMNS: list[Column] = [
    ID_COLUMN,
    Column("file", lambda i: Path(i.original_name).name if i.original_name else ""),
    Column("tags", lambda i: ", ".join(t.name for t in i.tags)),
    Column("size", lambda i: f"{i.width}x{i.height}"),
]


@app.command("add")
def add(
    project: ProjectArg,
    files: Annotated[list[Path], typer.Argument(help="Image files.", show_default=False)],
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag id or name (repeatable).")] = None,
    as_json: AsJson = False,
) -> None:
    """Upload image files with the given tags; one status line per file. Exit code 1 if any failed."""
    results: list[ImageAddResult] = []
    with open_workspace() as ws:
        for start in range(0, len(files), _BATCH):
            readable: list[NewImage] = []
            for path in files[start : start + _BATCH]:
                try:
                    readable.append(NewImage(read_bytes(path, ws.image_limits), name=str(path)))
                except ImageError as error:
                    results.append(ImageAddResult(str(path), ImageStatus.ErrorSource, message=str(error)))
            results += images.add_images(ws, project, readable, tags=tag or [])
    if as_json:
        print_json(results)
    else:
        for result in results:
            _print_result(result)
        added = sum(r.status == ImageStatus.OK for r in results)
        duplicates = sum(r.status == ImageStatus.OKDuplicate for r in results)
        console.print(f"added {added}, duplicates {duplicates}, failed {len(results) - added - duplicates}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _print_result(result: ImageAddResult) -> None:
    image_id = result.image.id if result.image is not None else ""  # an added or duplicate image is there
    if result.status == ImageStatus.OK:
        console.print(f"added      {result.source} ({image_id})", markup=False, highlight=False)
    elif result.status == ImageStatus.OKDuplicate:
        console.print(f"duplicate  {result.source} (already there as {image_id})", markup=False)
    else:
        console.print(f"failed     {result.source}: {result.message or result.status}", markup=False)


@app.command("import")
def import_(
    project: ProjectArg,
    source: Annotated[
        Path,
        typer.Argument(
            help="A folder with one sub-folder per tag (optionally under train/ val/ test/), "
            "or a CSV `path,tags` (tags separated by ';') or `path,<tag>,<tag>...` with 0/1 cells, "
            "optionally with a `split` column. Images of the test split become the project's test set: "
            "never trained on, used to evaluate every iteration.",
            show_default=False,
        ),
    ],
    split: Annotated[
        str | None, typer.Option(help="Only this split folder (train, val, test) of a folder import.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Import labelled images, creating missing tags. Re-running it adds nothing twice."""
    if source.is_dir():
        items = importing.folder_items(source, {split.lower()} if split else None)
    elif source.suffix.lower() != ".csv":
        fail(f"{source} is neither a folder nor a .csv file")
    elif split:
        raise typer.BadParameter("applies to folder imports, not to a CSV", param_hint="--split")
    else:
        items = importing.csv_items(source)
    with open_workspace() as ws:
        name = projects.get_project(ws, project).name
        with progress_bar() as progress:
            task = progress.add_task("importing", total=len(items))
            report = importing.import_items(
                ws, project, items, progress=lambda done, total: progress.update(task, completed=done, total=total)
            )
    if as_json:
        print_json(report.to_dict())
    else:
        if report.tags_created:
            console.print(f"created tags: {', '.join(report.tags_created)}", markup=False)
        held_out = f" ({report.test_images} to the test set)" if report.test_images else ""
        console.print(
            f"{name}: added {report.added}{held_out}, duplicates {report.duplicates}, failed {len(report.failed)}",
            markup=False,
        )
        for path, reason in report.failed[:_FAILURES_SHOWN]:
            console.print(f"  failed {path}: {reason}", markup=False, highlight=False)
        if len(report.failed) > _FAILURES_SHOWN:
            console.print(f"  ... and {len(report.failed) - _FAILURES_SHOWN} more (see --json)")
    if report.failed:
        raise typer.Exit(1)


@app.command("list")
def list_(
    project: ProjectArg,
    tagged: Annotated[
        bool | None, typer.Option("--tagged/--untagged", help="Only tagged, or only untagged, images.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Only images with this tag (repeatable).")
    ] = None,
    take: Annotated[int, typer.Option(min=1, max=256, help="At most this many images.")] = 50,
    skip: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    test_set: Annotated[
        bool, typer.Option("--test-set", help="The project's test set (never trained on) instead of training images.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """List images, newest first."""
    with open_workspace() as ws:
        rows = images.list_images(
            ws, project, tagged=tagged, tag_ids=tag or (), take=take, skip=skip, test_set=test_set
        )
        total = images.count_images(ws, project, tagged=tagged, tag_ids=tag or (), test_set=test_set)
        if as_json:  # each tag with the number of images it really has (listings leave it 0 to save queries)
            counts = {t.id: t.image_count for t in tags.list_tags(ws, project)}
            rows = [replace(r, tags=[replace(t, image_count=counts.get(t.id, 0)) for t in r.tags]) for r in rows]
    print_rows(rows, COLUMNS, as_json=as_json, empty="no images match")
    if not as_json and rows:
        err_console.print(f"{skip + 1}-{skip + len(rows)} of {total}")


@app.command("tag")
def tag_(project: ProjectArg, image_ids: ImageIds, tag: TagOption) -> None:
    """Add tags to images (a Multiclass project allows one tag per image)."""
    with open_workspace() as ws:
        added = images.tag_images(ws, project, [(image, t) for image in image_ids for t in tag])
    console.print(f"added {added} tag links to {len(image_ids)} images")


@app.command("untag")
def untag(project: ProjectArg, image_ids: ImageIds, tag: TagOption) -> None:
    """Remove tags from images."""
    with open_workspace() as ws:
        removed = images.untag_images(ws, project, [(image, t) for image in image_ids for t in tag])
    console.print(f"removed {removed} tag links from {len(image_ids)} images")


class Split(StrEnum):
    test = "test"
    training = "training"


@app.command("move")
def move(
    project: ProjectArg,
    image_ids: ImageIds,
    to: Annotated[
        Split,
        typer.Option("--to", help="test: the project's test set (never trained on); training: back to training."),
    ],
) -> None:
    """Move images into the project's test set or back to training (the next `train` then trains again)."""
    with open_workspace() as ws:
        moved = images.set_test_set(ws, project, image_ids, test_set=to is Split.test)
    where = "the test set" if to is Split.test else "training"
    console.print(f"moved {moved} of {len(image_ids)} images to {where}", markup=False)


@app.command("delete")
def delete(
    project: ProjectArg,
    image_ids: Annotated[list[str] | None, typer.Argument(help="Image ids.", show_default=False)] = None,
    all_images: Annotated[bool, typer.Option("--all", help="Delete every image of the project.")] = False,
    yes: Yes = False,
) -> None:
    """Delete images by id, or all of them (`--all --yes`)."""
    if bool(image_ids) == all_images:
        raise typer.BadParameter("name image ids, or pass --all (not both)")
    with open_workspace() as ws:
        if all_images:
            view = projects.get_project(ws, project)
            confirm_or_stop(f"delete all {view.image_count} images of project {view.name!r}", yes=yes)
        deleted = images.delete_images(ws, project, image_ids, all_images=all_images)
    console.print(f"deleted {deleted} images")
