"""`sightline predict` and `sightline test`: classify image files with a trained iteration.

`predict` asks a published model (by publish name, as Custom Vision's prediction API does) and
`test` is the quick test of the latest iteration. Each image gets a block: its top tags with
probability bars, which pass the threshold, and in words whether a person should look at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sightline.commands.context import AsJson, ProjectArg, open_workspace
from sightline.commands.render import console, fail, print_json
from sightline.errors import ImageError
from sightline.imaging import read_bytes
from sightline.reporting.reasons import describe_reason
from sightline.service import Workspace, iterations, predictions
from sightline.service.views import PredictionView

_BAR_WIDTH = 24
_TOP = 5

ImageFiles = Annotated[list[Path], typer.Argument(help="Image files.", show_default=False)]
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


def _classify(ws: Workspace, project: str, paths: list[Path], target: Target, *, as_json: bool) -> None:
    data = [read_bytes(path, ws.image_limits) for path in paths]  # a missing file stops here, before any work
    results = predictions.predict(
        ws,
        project,
        data,
        publish_name=target.publish_name,
        iteration_id=target.iteration,
        store=target.store,
        threshold=target.threshold,
    )
    if as_json:
        print_json([_as_json(path, result) for path, result in zip(paths, results, strict=True)])
    else:
        for path, result in zip(paths, results, strict=True):
            print_prediction(path, result)
    if any(isinstance(result, ImageError) for result in results):
        raise typer.Exit(1)


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
    if not any(p.above_threshold for p in result.predictions):
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
