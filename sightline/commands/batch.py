"""`sightline predict-batch`: a published model over many images, rows to JSON Lines or Parquet."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

from sightline.commands.context import ProjectArg, open_workspace
from sightline.commands.render import err_console


class _Rate(ProgressColumn):
    """Images per second since the start (Rich's own speed column is for bytes)."""

    def render(self, task) -> Text:
        elapsed = task.elapsed or 0.0
        done = task.completed - task.fields.get("skipped", 0)
        return Text(f"{done / elapsed:.1f} img/s" if elapsed > 0 and done > 0 else "- img/s", style="cyan")


def predict_batch(
    project: ProjectArg,
    sources: Annotated[
        list[str], typer.Argument(help="Folders, globs, s3:// prefixes or CSV manifests (a `path` column).")
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="Publish name of the model to use.")],
    out: Annotated[str, typer.Option("--out", "-o", help="results.jsonl or results.parquet")],
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Run on Ray Data: a cluster address, or `local` for a new local cluster.",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Skip the images the output already holds.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=1024, help="Images per model call.")] = 32,
) -> None:
    """Classify every image of the sources with a published model: one row per image, errors included."""
    from sightline import batch

    target: bool | str = False if ray is None else (True if ray in ("", "local", "auto") else ray)
    with open_workspace() as ws:
        columns = (
            TextColumn("predicting"),
            BarColumn(),
            MofNCompleteColumn(),
            _Rate(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, transient=False) as bar:
            task = bar.add_task("images", total=None, skipped=0)
            started = False

            def progress(done: int, total: int) -> None:
                nonlocal started
                if not started:  # the first call says what --resume skipped: not counted in the rate
                    bar.reset(task, total=total, completed=done, skipped=done)
                    started = True
                bar.update(task, completed=done, total=total)

            summary = batch.predict(
                ws, project, name, sources, out, ray=target, resume=resume, batch_size=batch_size, progress=progress
            )
    err_console.print(
        f"{summary.predicted} predicted, {summary.failed} unreadable, {summary.skipped} already done "
        f"({summary.images_per_second:.1f} img/s) -> {out}"
    )
