"""How the workflow commands print: Rich tables for people, plain JSON for scripts, one-line errors.

Every listing and show command goes through `print_rows` / `print_record`, so `--json` means the
same thing everywhere: the service's views as JSON (datetimes in ISO 8601), nothing else on stdout.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from sightline.reporting import performance
from sightline.service.views import IterationView

# soft_wrap: a status line stays one line (greppable, and paths are not split); tables still fit the width.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)


class Column(NamedTuple):
    """A table column: its header, how to get the cell from a row, and whether it must stay whole."""

    header: str
    get: Callable[[Any], object]
    no_wrap: bool = False  # ids (people copy them) and timestamps


#: The id column of every listing: never wrapped nor shortened, since the next command needs it.
ID_COLUMN = Column("id", lambda view: view.id, no_wrap=True)


def fail(message: str, *, code: int = 1) -> NoReturn:
    """End the command with one red line on stderr and exit code 1 (2: a usage error), as `cli.main` does."""
    err_console.print(Text.assemble(("error:", "red"), " ", message))
    raise typer.Exit(code)


def jsonable(value: Any) -> Any:
    """Views (dataclasses), datetimes, enums and paths as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = value.to_dict() if hasattr(value, "to_dict") else dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(value: Any) -> None:
    """Plain JSON on stdout (no colour, no wrapping): safe to pipe into `jq` or `json.loads`."""
    typer.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


def progress_bar() -> Progress:
    """A live bar on stderr (description, bar, done/total, elapsed); nothing at all when stderr is not a terminal."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal)


def when(value: datetime | None) -> str:
    """A timestamp to the second, in the local time zone."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else ""


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def percent(value: float | None, std: float | None = None) -> str:
    """`93.1%`, or `93.1% ± 2.0` with a cross-validation spread; a dash when unknown or undefined."""
    if value is None:
        return "–"
    return f"{value:.1%}" if std is None else f"{value:.1%} ± {std * 100:.1f}"


def print_rows(rows: Sequence[Any], columns: Sequence[Column], *, as_json: bool, empty: str) -> None:
    """A table of views, or their JSON list; `empty` is said (to stderr) when there are none."""
    if as_json:
        print_json(list(rows))
        return
    if not rows:
        err_console.print(empty)
        return
    table = Table()
    for column in columns:
        table.add_column(column.header, no_wrap=column.no_wrap)
    for row in rows:
        table.add_row(*(_cell(column.get(row)) for column in columns))
    console.print(table)


def print_record(record: Any, fields: Iterable[Column], *, as_json: bool) -> None:
    """One view as `field  value` lines, or as a JSON object."""
    if as_json:
        print_json(record)
        return
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column()
    for field in fields:
        table.add_row(field.header, _cell(field.get(record)))
    console.print(table)


def _cell(value: object) -> Text:
    """Cells are plain text: a tag called `[red]` is shown as typed, not taken for Rich markup."""
    if value is None:
        return Text("")
    if isinstance(value, Text):
        return value
    return Text(when(value) if isinstance(value, datetime) else str(value))


# -- iterations and their evaluation reports ------------------------------------------------------


def print_iteration(view: IterationView) -> None:
    """Status and timing of one iteration."""
    fields: list[Column] = [
        Column("iteration", lambda i: i.name),
        ID_COLUMN,
        Column("status", lambda i: i.status),
        Column("domain", lambda i: i.domain),
        Column("type", lambda i: i.classification_type),
        Column("created", lambda i: i.created, no_wrap=True),
        Column("trained", lambda i: i.trained_at),
        Column("training time", lambda i: seconds(i.training_seconds)),
        Column("published as", lambda i: i.publish_name),
    ]
    if not view.status.is_terminal:
        fields.append(Column("progress", lambda i: f"{i.progress_phase or ''} {i.progress_done}/{i.progress_total}"))
    if view.error:
        fields.append(Column("error", lambda i: i.error))
    print_record(view, fields, as_json=False)


def print_overall(report: performance.Report) -> None:
    """The headline figures on one line: `precision 93.3%  recall 91.1%  mAP 97.0%  accuracy 93.3%`.
    Precision and recall always show (a dash when undefined); the others only where they apply."""
    figures = [
        f"{name} {percent(value)}"
        for name, value in performance.overall(report).items()
        if value is not None or name in ("precision", "recall")
    ]
    console.print(Text("  ".join(figures)))


def print_report(
    report: performance.Report, held_out: performance.Report | None = None, *, title: str | None = None
) -> None:
    """Overall figures (beside the test set's, when there is one), calibration, warnings, and the
    per-tag table of an evaluation report. `title`: what the figures rest on (default: the CV basis)."""
    threshold = report.threshold
    console.print(
        Text(
            "\n"
            + (title or performance.estimate_basis(report))
            + (f", at threshold {threshold:g}" if threshold is not None else "")
        )
    )
    if held_out:
        console.print(Text(performance.held_out_basis(held_out)))
        console.print(held_out_table(performance.side_by_side(report, held_out)))
        for warning in held_out.warnings:
            console.print(Text.assemble(("warning (test set): ", "yellow"), str(warning)))
    else:
        print_overall(report)
    before, after = report.ece_before_calibration, report.ece_after_calibration
    if before is not None and after is not None:
        console.print(Text(f"calibration error (ECE) {before:.3f} before → {after:.3f} after calibration"))
    for warning in report.warnings:
        console.print(Text.assemble(("warning: ", "yellow"), str(warning)))
    skipped = report.skipped_images
    if skipped:
        console.print(Text(f"{len(skipped)} images could not be used: {skipped[0].get('error', '')} ..."))
    rows = performance.tag_rows(report)
    if rows:
        console.print(tag_metrics_table(rows))


def held_out_table(figures: Sequence[performance.Figure]) -> Table:
    """Headline figures: the cross-validated estimate beside the test set's (± standard error)."""
    table = Table("figure", "cross-validated estimate", "test set (held out)")
    for figure in figures:
        table.add_row(
            figure.name, percent(figure.estimate, figure.estimate_std), percent(figure.held_out, figure.held_out_std)
        )
    return table


def tag_metrics_table(rows: Sequence[performance.TagRow]) -> Table:
    """Per tag: precision, recall and AP with their spread across folds, images, suggested threshold."""
    table = Table("tag", "precision", "recall", "AP", "images", "suggested threshold")
    for row in rows:
        table.add_row(
            Text(row.tag),
            percent(row.precision, row.precision_std),
            percent(row.recall, row.recall_std),
            percent(row.average_precision, row.average_precision_std),
            "" if row.image_count is None else str(row.image_count),
            "" if row.suggested_threshold is None else f"{row.suggested_threshold:.2f}",
        )
    return table
