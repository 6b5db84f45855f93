"""The `sightline` command line (Typer + Rich).

User errors end with one clear line and exit code 1 (usage errors: 2, from Typer); never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperOption

from sightline.commands.paths import image_paths
from sightline.commands.render import console, err_console
from sightline.config import check_environment
from sightline.errors import ConfigError, SightlineError
from sightline.logs import configure_logging

if TYPE_CHECKING:
    from sightline.service.engine import Tagger, TagResult


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    """Help shows `--json`, not `--json <bool>`: a flag takes no value, so it has no type to show."""
    return None if getattr(self, "is_flag", False) else _option_type(self, ctx)


_option_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

app = typer.Typer(
    name="sightline",
    help="Self-hosted image classification: custom classifiers with calibrated confidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def demo(
    backbone: Annotated[
        str, typer.Option(help="Backbone to use; offline, the packaged efficientnet-lite0 (real ImageNet weights).")
    ] = "default",
) -> None:
    """The whole workflow on real photos: project, upload, train, performance, quick test, tags, publish."""
    from sightline.demo import run_demo

    run_demo(console, backbone)


@app.command()
def backbones(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List the known backbones (image encoders)."""
    from rich.table import Table

    from sightline.service.engine import list_backbones

    rows = list_backbones()
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("name", "licence", "text tower", "ImageNet top-1", "default")
    for row in rows:
        zero_shot, supervised = row.get("zero_shot_imagenet"), row.get("imagenet_top1")
        accuracy = f"{zero_shot:.1%} zero-shot" if zero_shot else f"{supervised:.1%}" if supervised else ""
        table.add_row(
            row["name"],
            row.get("license") or "",
            "yes" if row.get("has_text") else "no",
            accuracy,
            "*" if row.get("default") else "",
        )
    console.print(table)


#: Above this many images the `tag` command shows a progress bar (on stderr).
_PROGRESS_FROM = 8


def _names(values: list[str] | None) -> list[str] | None:
    """Repeated options and comma-separated lists alike: `--category animal,food --category scene`."""
    if values is None:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@app.command()
def tag(
    images: Annotated[list[Path], typer.Argument(help="Image files and/or folders (walked for images).")],
    backbone: Annotated[str, typer.Option(help="Image-text model, or a classification model (its labels).")] = (
        "default"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per image (JSON Lines).")] = False,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="Lowest confidence shown.")] = 0.5,
    top: Annotated[int, typer.Option(min=0, help="At most this many tags per image (0: no limit).")] = 10,
    tags: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", "-t", "--tags", help='Your own vocabulary: "ripe,unripe,rotten" or repeated, as everywhere.'
        ),
    ] = None,
    tags_file: Annotated[
        Path | None, typer.Option(help="Vocabulary file: one tag per line, or a TSV (see sightline/vocabulary.py).")
    ] = None,
    single: Annotated[
        bool, typer.Option("--single", help="Exactly one of the tags per image: confidences sum to 1.")
    ] = False,
    category: Annotated[list[str] | None, typer.Option(help="Only tags of these categories (repeatable).")] = None,
    include: Annotated[list[str] | None, typer.Option(help="Only these tags and the tags below them.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Never these tags, nor the tags below them.")] = None,
) -> None:
    """Tag photos with no training: `beach.jpg: outdoor 0.97, beach 0.95, sea 0.91`.

    Several tags can be right at once, each scored on its own. Exit code 1 if an image was unreadable.
    """
    from sightline.service.engine import new_tagger

    if tags is not None and tags_file is not None:
        raise typer.BadParameter("give --tag or --tags-file, not both")
    vocabulary = _names(tags) if tags is not None else tags_file
    paths = image_paths(images)
    tagger = new_tagger(
        backbone, vocabulary=vocabulary, mode="single" if single else "multilabel", threshold=threshold,
        top=top or None, categories=_names(category), include=_names(include), exclude=_names(exclude),
    )  # fmt: skip
    results = _tag_with_progress(tagger, [str(p) for p in paths])
    failed = False
    for path, result in zip(paths, results, strict=True):
        failed |= not result.ok
        if as_json:
            typer.echo(json.dumps({"path": str(path), **result.to_dict()}))
        elif result.ok:
            shown = ", ".join(f"{t.name} {t.confidence:.2f}" for t in result.tags) or f"(no tag >= {threshold:g})"
            typer.echo(f"{path}: {shown}")
        else:
            typer.echo(f"{path}: error: {result.error}", err=True)
    if failed:
        raise typer.Exit(1)


def _tag_with_progress(tagger: Tagger, paths: list[str]) -> list[TagResult]:
    if len(paths) <= _PROGRESS_FROM:
        return tagger.tag(paths)
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("tagging", total=len(paths))
        return tagger.tag(paths, progress=lambda done, total: progress.update(task, completed=done, total=total))


# The project workflow (create, upload, train, evaluate, publish, predict): sightline/commands/.
from sightline import commands  # noqa: E402

app.add_typer(commands.projects.app, name="projects")
app.add_typer(commands.tags.app, name="tags")
app.add_typer(commands.images.app, name="images")
app.command()(commands.training.train)
app.add_typer(commands.training.iterations_app, name="iterations")
app.command()(commands.training.publish)
app.command()(commands.training.unpublish)
app.command()(commands.predict.predict)
app.command()(commands.predict.test)
app.command(name="predict-batch")(commands.batch.predict_batch)
app.command(name="purge-predictions")(commands.predict.purge)
app.command("thresholds")(commands.thresholds.thresholds_command)
app.command()(commands.report.report)
app.command()(commands.evaluate.evaluate)
app.command()(commands.training.worker)
app.command()(commands.maintenance.gc)
app.command("review")(commands.review.review_command)
app.command()(commands.export.export)

# The HTTP API: sightline/commands/serve.py (imported here; FastAPI itself loads only when serving).
from sightline.commands import serve as serve_commands  # noqa: E402

app.command()(serve_commands.serve)
app.command()(serve_commands.keys)

from sightline.commands import migrate as migrate_commands  # noqa: E402

app.command()(migrate_commands.migrate)


def main() -> None:
    """Entry point: run the app, turning Sightline's own errors into one line and exit code 1."""
    try:
        check_environment()  # a bad SIGHTLINE_* value is a usage error, found before anything starts
        configure_logging()  # SIGHTLINE_LOG_JSON=1: one JSON object per line
        app()
    except ConfigError as error:
        err_console.print(f"[red]error:[/red] {error}", markup=True, highlight=False)
        raise SystemExit(2) from None
    except SightlineError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
