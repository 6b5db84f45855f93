"""`sightline thresholds`: show or set the thresholds an iteration's predictions use.

A tag counts as predicted when its probability reaches its threshold: the iteration's own for that tag,
else the project's one threshold. Without options it shows them; the options change them in one step.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sightline.commands.context import AsJson, ProjectArg, open_workspace
from sightline.commands.render import console, fail, print_json
from sightline.service import thresholds
from sightline.service.thresholds import ThresholdsView


def _tag_values(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name] = float(value)
        except ValueError:
            raise typer.BadParameter(f"{item!r} is not TAG=VALUE (e.g. dress=0.7)", param_hint="--tag") from None
    return out


def thresholds_command(
    project: ProjectArg,
    iteration: Annotated[
        str | None, typer.Option("--iteration", "-i", help="Iteration id or name (default: the latest).")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", min=0.0, max=1.0, help="Set the project's one threshold.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Set one tag's threshold, TAG=VALUE (repeatable).")
    ] = None,
    best_f1: Annotated[
        bool, typer.Option("--best-f1", help="Give every tag the threshold with the best F1 out of fold.")
    ] = False,
    precision: Annotated[
        float | None,
        typer.Option(
            "--precision",
            min=0.0,
            max=1.0,
            help="Give every tag the lowest threshold reaching this precision out of fold.",
        ),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Drop the per-tag thresholds: every tag uses the project's.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Show or set thresholds: the project's one, or per tag for an iteration (applied to the next prediction)."""
    if best_f1 and precision is not None:
        fail("choose --best-f1 or --precision, not both")
    values = _tag_values(tag or [])
    changes = threshold is not None or values or best_f1 or precision is not None or clear
    with open_workspace() as ws:
        if changes:
            view = thresholds.set_thresholds(
                ws,
                project,
                iteration,
                threshold=threshold,
                tags=values,
                suggested="best-f1" if best_f1 else "precision" if precision is not None else None,
                target_precision=precision,
                clear=clear,
            )
        else:
            view = thresholds.get_thresholds(ws, project, iteration)
    if as_json:
        print_json(view.to_dict())
    else:
        print_thresholds(view)


def print_thresholds(view: ThresholdsView) -> None:
    console.print(f"{view.iteration_name}: project threshold {view.threshold:g}", highlight=False)
    table = Table("tag", "threshold", "set for the tag", "suggested (best F1)")
    for name, value in view.tags.items():
        suggested = view.suggested.get(name)
        table.add_row(
            name, f"{value:.2f}", "yes" if name in view.per_tag else "", "" if suggested is None else f"{suggested:.2f}"
        )
    console.print(table)
