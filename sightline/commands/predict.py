"""`sightline predict` and `sightline test`: classify image files with a trained iteration.

`predict` asks a published model (by publish name, as Custom Vision's prediction API does) and
`test` is the quick test of the latest iteration. Each image gets a block: its top tags with
probability bars, which pass the threshold, and in words whether a person should look at it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sightline.commands.context import AsJson, ProjectArg, open_workspace
from sightline.commands.paths import image_paths
from sightline.commands.render import console, fail, print_json
from sightline.errors import ImageError
from sightline.imaging import read_bytes
from sightline.reporting.reasons import describe_reason
from sightline.service import Workspace, iterations, predictions
from sightline.service.views import PredictionView

_BAR_WIDTH = 24
_TOP = 5
_BATCH = 64  # images per prediction call: a folder of thousands is read a batch at a time

ImageFiles = Annotated[
    list[Path],
    typer.Argument(help="Image files and/or folders (walked for images: one row per image).", show_default=False),
]
IterationOption = Annotated[str | None, typer.Option("--iteration", "-i", help="Iteration id or name.")]
ThresholdOption = Annotated[
    float | None,
    typer.Option(
        min=0.0, max=1.0, help="Probability from which a tag counts (default: each tag's own, else the project's)."
    ),
]
StoreOption = Annotated[bool, typer.Option("--store/--no-store", help="Keep the images and results for review.")]


def predict(
    project: ProjectArg,
    images: ImageFiles,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Publish name (default: the project's only published one).")
    ] = None,
    iteration: IterationOption = None,
    threshold: ThresholdOption = None,
    store: StoreOption = True,
    as_json: AsJson = False,
) -> None:
    """Classify images with a published iteration. Exit code 1 if any image could not be used."""
    if name is not None and iteration is not None:
        raise typer.BadParameter("give --name or --iteration, not both")
    with open_workspace() as ws:
        if name is None and iteration is None:
            name = _only_publish_name(ws, project)
        target = Target(publish_name=name, iteration=iteration, threshold=threshold, store=store)
        _classify(ws, project, images, target, as_json=as_json)


def test(
    project: ProjectArg,
    images: ImageFiles,
    iteration: Annotated[
        str | None, typer.Option("--iteration", "-i", help="Iteration id or name (default: the latest).")
    ] = None,
    threshold: ThresholdOption = None,
    store: StoreOption = True,
    as_json: AsJson = False,
) -> None:
    """Quick test: classify images with the latest (or a given) iteration, published or not."""
    with open_workspace() as ws:
        target = Target(publish_name=None, iteration=iteration, threshold=threshold, store=store)
        _classify(ws, project, images, target, as_json=as_json)


def _only_publish_name(ws: Workspace, project: str) -> str:
    published = [i.publish_name for i in iterations.list_iterations(ws, project) if i.publish_name]
    if len(published) == 1:
        return published[0]
    if not published:
        fail(f"nothing of project {project!r} is published: `sightline publish`, or try one with `sightline test`")
    fail(f"project {project!r} is published as {', '.join(sorted(published))}: choose one with --name")


@dataclass(frozen=True)
class Target:
    """Which model answers (a publish name, or an iteration: None for the latest) and how."""

    publish_name: str | None
    iteration: str | None
    threshold: float | None
    store: bool


def _classify(ws: Workspace, project: str, inputs: list[Path], target: Target, *, as_json: bool) -> None:
    paths = image_paths(inputs)
    results: list[PredictionView | ImageError] = []
    for start in range(0, len(paths), _BATCH):  # bounded memory for a folder of thousands
        results += _classify_batch(ws, project, paths[start : start + _BATCH], target)
    if as_json:
        print_json([_as_json(path, result) for path, result in zip(paths, results, strict=True)])
    elif any(item.is_dir() for item in inputs):
        print_prediction_rows(paths, results)
    else:
        for path, result in zip(paths, results, strict=True):
            print_prediction(path, result)
    if any(isinstance(result, ImageError) for result in results):
        raise typer.Exit(1)


def _classify_batch(
    ws: Workspace, project: str, paths: list[Path], target: Target
) -> list[PredictionView | ImageError]:
    """Each file's prediction, or the error that kept it from one (unreadable files included)."""
    read: dict[int, bytes] = {}
    results: list[PredictionView | ImageError | None] = [None] * len(paths)
    for i, path in enumerate(paths):
        try:
            read[i] = read_bytes(path, ws.image_limits)
        except ImageError as error:
            results[i] = error
    if read:
        answered = predictions.predict(
            ws, project, list(read.values()), publish_name=target.publish_name, iteration_id=target.iteration,
            store=target.store, threshold=target.threshold,
        )  # fmt: skip
        for i, result in zip(read, answered, strict=True):
            results[i] = result
    return [r for r in results if r is not None]


def _verdict(result: PredictionView) -> str:
    """What a row of the table says about its image: unknown, uncertain (and why), or nothing."""
    if result.unknown:
        return "unknown: unlike the training images"
    if result.uncertain:
        codes = [str(r.code).replace("_", " ") for r in result.reasons if r.code != "unknown"]
        return "uncertain" + (f": {', '.join(codes)}" if codes else "")
    return ""


def print_prediction_rows(paths: list[Path], results: list[PredictionView | ImageError]) -> None:
    """One row per image (a folder's worth): the tags that pass, their probability, and its flag or error."""
    folder = Path(os.path.commonpath([path.parent for path in paths])) if paths else Path()
    table = Table("image", "predicted", "probability", "note")
    table.columns[0].overflow = "fold"  # a file name is never cut short: people look the file up
    for path, result in zip(paths, results, strict=True):
        name = Text(str(path.relative_to(folder)))
        if isinstance(result, ImageError):
            table.add_row(name, "", "", Text(f"error: {result}", style="red"))
            continue
        passed = [p for p in result.predictions if p.above_threshold]
        shown = passed or result.predictions[:1]
        names = Text(", ".join(p.tag_name for p in shown), style="" if passed else "grey50")
        figures = ", ".join(f"{p.probability:.1%}" for p in shown)
        table.add_row(name, names, figures, _verdict(result))
    console.print(table)
    console.print(Text(f"images in {folder}"), overflow="fold")  # a long path folds, never widens the screen
    failed = sum(isinstance(r, ImageError) for r in results)
    flagged = sum(not isinstance(r, ImageError) and (r.uncertain or r.unknown) for r in results)
    console.print(f"{len(results)} images: {flagged} to check, {failed} failed")


def _as_json(path: Path, result: PredictionView | ImageError) -> dict:
    if isinstance(result, ImageError):
        return {"image": str(path), "error": {"reason": result.reason, "message": str(result)}}
    return {"image": str(path), **result.to_dict()}


def print_prediction(path: Path | str, result: PredictionView | ImageError) -> None:
    console.print(Text(str(path), style="bold"))
    if isinstance(result, ImageError):
        console.print(Text.assemble("  ", ("error:", "red"), f" {result}"))
        return
    table = Table(show_header=False, box=None, padding=(0, 1, 0, 2))
    for prediction in result.predictions[:_TOP]:
        probability = prediction.probability
        passed = prediction.above_threshold
        filled = round(probability * _BAR_WIDTH)
        bar = Text("█" * filled, style="green" if passed else "grey50") + Text("░" * (_BAR_WIDTH - filled), "grey23")
        limit = prediction.threshold
        table.add_row(
            Text(prediction.tag_name), bar, f"{probability:6.1%}", "✓" if passed else "", f"(threshold {limit:g})"
        )
    console.print(table)
    hidden = len(result.predictions) - _TOP
    if hidden > 0:
        console.print(f"  ... {hidden} more tags below {result.predictions[_TOP - 1].probability:.1%}")
    if result.unknown:
        console.print("  no tag counts: the image is unlike the training images")
    elif not any(p.above_threshold for p in result.predictions):
        console.print("  no tag reaches its threshold")
    for reason in result.reasons:
        label = "[red]UNKNOWN[/red]" if reason.code == "unknown" else "[yellow]UNCERTAIN[/yellow]"
        console.print(f"  {label} ({reason.code}): {escape(describe_reason(reason))}", highlight=False)
    if not result.unknown:
        console.print(f"  unknown score {result.unknown_score:.2f} (how unlike the training images it is)", style="dim")
    if result.stored:
        console.print(f"  stored as prediction {result.id} for review", style="dim")


def purge(
    older_than: Annotated[
        int | None,
        typer.Option("--older-than", min=0, help="Days to keep (default SIGHTLINE_PREDICTION_RETENTION_DAYS, 30)."),
    ] = None,
) -> None:
    """Delete stored predictions (and their images, unless used) older than the retention period."""
    with open_workspace() as ws:
        removed = predictions.purge_predictions(ws, older_than)
    console.print(f"{removed} predictions deleted")
