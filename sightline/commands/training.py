"""`sightline train`, `iterations ...`, `publish`, `unpublish` and `worker`: from tagged images to a live model.

Training is a queued job, as in Custom Vision. `train --wait` (the default) runs the job in this
process, so a laptop needs no separate worker; `sightline worker` is the same loop as a service.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shlex
import signal
import threading
import time
from pathlib import PurePath
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sightline.commands.context import AsJson, ProjectArg, open_workspace
from sightline.commands.render import (
    Column,
    console,
    err_console,
    fail,
    print_iteration,
    print_json,
    print_overall,
    print_report,
    print_rows,
    progress_bar,
    seconds,
)
from sightline.errors import ConflictError
from sightline.reporting import performance
from sightline.reporting.duplicates import duplicate_warnings
from sightline.reporting.fine_tune import fine_tune_sentence
from sightline.service import IterationStatus, Worker, Workspace, iterations, projects, training
from sightline.service import duplicates as duplicates_service
from sightline.service import worker as worker_module
from sightline.service.advanced import parse_budget
from sightline.service.views import ImageView, IterationView

iterations_app = typer.Typer(help="List and inspect the trained iterations of a project.", no_args_is_help=True)

_POLL_SECONDS = 0.25

IterationArg = Annotated[str, typer.Argument(help="Iteration id or name (e.g. 'Iteration 1').", show_default=False)]

COLUMNS: list[Column] = [
    Column("name", lambda i: i.name, no_wrap=True),
    Column("status", lambda i: i.status, no_wrap=True),
    Column("created", lambda i: i.created, no_wrap=True),
    Column("took", lambda i: seconds(i.training_seconds)),
    Column("published as", lambda i: i.publish_name),
]


def train(
    project: ProjectArg,
    force: Annotated[bool, typer.Option("--force", help="Train even when nothing changed since the last one.")] = False,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Train here and now (default), or only queue for a worker.")
    ] = True,
    advanced: Annotated[
        bool, typer.Option("--advanced", help="Fine-tune the backbone itself first (EfficientNet-Lite; slower).")
    ] = False,
    budget: Annotated[
        str | None, typer.Option("--budget", help="With --advanced: time for fine-tuning, e.g. 10m (default 1h).")
    ] = None,
) -> None:
    """Train a new iteration on the tagged images. Ctrl-C while waiting cancels the training."""
    options = _advanced_options(advanced, budget)
    with open_workspace() as ws:
        queued = training.start_training(ws, project, force=force, options=options)
        if not wait:
            console.print(f"queued {queued.name} ({queued.id}); a `sightline worker` will train it", markup=False)
            return
        done = train_and_watch(ws, queued, project)
        completed = done.status == IterationStatus.COMPLETED
        report = performance.iteration_report(ws, done.project_id, done.id)[1] if completed else None
    if done.status == IterationStatus.FAILED:
        fail(f"{done.name} failed: {done.error}")
    if not completed:
        fail(f"{done.name} was {done.status.lower()}")
    console.print(f"{done.name} completed in {seconds(done.training_seconds)}", markup=False)
    if report:
        print_overall(report)
        if report.fine_tune:
            console.print(fine_tune_sentence(report.fine_tune), markup=False)


def _advanced_options(advanced: bool, budget: str | None) -> training.TrainingOptions | None:
    if budget is not None and not advanced:
        raise typer.BadParameter("--budget goes with --advanced", param_hint="--budget")
    if not advanced:
        return None
    try:
        seconds = parse_budget(budget) if budget is not None else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--budget") from None
    hours = max(1, math.ceil((seconds or 3600) / 3600))
    return training.TrainingOptions(training_type="Advanced", reserved_budget_in_hours=hours, budget_seconds=seconds)


def train_and_watch(ws: Workspace, queued: IterationView, project_ref: str | None = None) -> IterationView:
    """Run workers in a thread until `queued` has finished, showing its progress; Ctrl-C cancels it.
    Label conflicts and test-set leakage are said as soon as the job has found them (before the
    cross-validation), each with the command that lists them (`project_ref`: as the user named it).

    The thread claims the oldest queued job, which is ours unless others wait before it (those get
    trained first, as a worker would); a `sightline worker` elsewhere may also take ours.
    """
    finished = threading.Event()

    def work() -> None:
        worker = Worker(ws)
        while not finished.is_set():
            if not worker.run_once():
                finished.wait(_POLL_SECONDS)

    thread = threading.Thread(target=work, name="sightline-train", daemon=True)
    worker_log = logging.getLogger(worker_module.__name__)
    level = worker_log.level
    worker_log.setLevel(logging.WARNING)  # this command reports the outcome itself, below the progress bar
    thread.start()
    try:
        try:
            current = _show_progress(ws, queued, project_ref or queued.project_id)
        except KeyboardInterrupt:
            with contextlib.suppress(ConflictError):  # it finished in the meantime
                iterations.cancel_training(ws, queued.project_id, queued.id)
            finished.set()
            thread.join(timeout=30)  # the job notices the cancel flag at its next progress report
            err_console.print(f"cancelled {queued.name}", markup=False)
            raise typer.Exit(130) from None
        finished.set()
        thread.join()  # a job it claimed meanwhile (another project's) is finished, not abandoned
    finally:
        worker_log.setLevel(level)
    return current


def _show_progress(ws: Workspace, queued: IterationView, project_ref: str) -> IterationView:
    warned = False
    with progress_bar() as progress:
        task = progress.add_task(f"{queued.name}: queued", total=None)
        while True:
            current = iterations.get_iteration(ws, queued.project_id, queued.id)
            if not warned and current.duplicate_checks is not None:
                warned = True
                _warn_duplicates(current, project_ref)
            if current.status.is_terminal:
                return current
            phase = (current.progress_phase or current.status.lower()).replace("_", " ")
            progress.update(
                task,
                description=f"{current.name}: {phase}",
                completed=current.progress_done,
                total=current.progress_total or None,
            )
            time.sleep(_POLL_SECONDS)


def _warn_duplicates(view: IterationView, project_ref: str) -> None:
    """One line per kind (label conflicts, leakage), on stderr above the progress bar."""
    found = duplicate_warnings(view.duplicate_checks)
    if found:
        hint = f"sightline iterations show {shlex.quote(project_ref)} {shlex.quote(view.name)} --duplicates"
        for warning in found:
            err_console.print(Text(f"warning: {warning.text} (list: {hint})", style="yellow"))


@iterations_app.command("list")
def list_(project: ProjectArg, as_json: AsJson = False) -> None:
    """List the iterations of a project, oldest first."""
    with open_workspace() as ws:
        rows = iterations.list_iterations(ws, project)
    print_rows(rows, COLUMNS, as_json=as_json, empty="no iterations yet: `sightline train PROJECT`")


@iterations_app.command("show")
def show(
    project: ProjectArg,
    iteration: Annotated[
        str | None, typer.Argument(help="Iteration id or name (default: the latest).", show_default=False)
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Recompute precision and recall at this threshold."),
    ] = None,
    mislabeled: Annotated[
        bool,
        typer.Option(
            "--mislabeled",
            help="List the training images whose tag is probably wrong, most likely first (Multiclass).",
        ),
    ] = False,
    duplicates: Annotated[
        bool,
        typer.Option(
            "--duplicates",
            help="List near-duplicate images with different tags, and test images that copy training images.",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Status, timing and performance: the cross-validated estimate (beside the figures on the project's
    test set, when it has one), calibration and per tag."""
    if duplicates:
        _show_duplicates(project, iteration, as_json=as_json)
        return
    with open_workspace() as ws:
        view, report = performance.iteration_report(ws, project, iteration, threshold=threshold)
        held_out = performance.test_set_report(ws, project, view.id)
        baseline = performance.azure_baseline(projects.get_project(ws, project).settings)
    if mislabeled:
        issues = performance.label_issues(report) if report else []
        if as_json:
            print_json(issues)
        elif not issues:
            console.print(Text(f"{view.name}: no training image looks mislabelled"))
        else:
            table = Table("image (sha256)", "tagged", "probably", "p(tagged)")
            for issue in issues:
                table.add_row(issue.image_key or "?", issue.given, issue.suggested, f"{issue.self_confidence:.3f}")
            console.print(table)
        return
    if as_json:
        print_json({"iteration": view, "report": report or {}, "test_report": held_out, "azure_baseline": baseline})
        return
    print_iteration(view)
    if report:
        print_report(report, held_out)
    if baseline is not None:
        console.print(Text(baseline.describe()))


def _show_duplicates(project: str, iteration: str | None, *, as_json: bool) -> None:
    with open_workspace() as ws:
        found = duplicates_service.duplicate_report(ws, project, iteration)
    if as_json:
        print_json(found)
        return
    if found.checks is None:
        console.print(Text(f"{found.iteration.name}: not searched for duplicates (it has not started training)"))
        return
    if not found.pairs:
        console.print(Text(f"{found.iteration.name}: no label conflicts, no test image copies a training image"))
        return
    table = Table("kind", escape("image [tags]"), escape("near-duplicate of [tags]"))
    for pair in found.pairs:
        kind = "label conflict" if pair.kind == duplicates_service.CONFLICT else "test leak"
        table.add_row(kind, _image_cell(pair.first_key, pair.first), _image_cell(pair.second_key, pair.second))
    console.print(table)


def _image_cell(key: str, image: ImageView | None) -> Text:
    """The file name (a path is shortened to it), `(test set)`, its tags now; a deleted image by its key."""
    if image is None:
        return Text(f"{key[:12]}… (deleted)")
    name = PurePath(image.original_name).name if image.original_name else key[:12] + "…"
    test = " (test set)" if image.test_set else ""
    return Text(f"{name}{test} [{', '.join(t.name for t in image.tags)}]")


def publish(
    project: ProjectArg,
    iteration: IterationArg,
    name: Annotated[str, typer.Argument(help="Publish name predictions ask for.", show_default=False)],
) -> None:
    """Publish a completed iteration under a name, for `sightline predict` and the prediction API."""
    with open_workspace() as ws:
        view = iterations.publish_iteration(ws, project, iteration, name)
    console.print(f"published {view.name} as {view.publish_name!r}", markup=False)


def unpublish(project: ProjectArg, iteration: IterationArg) -> None:
    """Stop an iteration answering predictions under its publish name."""
    with open_workspace() as ws:
        before = iterations.get_iteration(ws, project, iteration)
        view = iterations.unpublish_iteration(ws, project, iteration)
    console.print(f"unpublished {view.name} (was {before.publish_name!r})", markup=False)


def worker(
    lease: Annotated[float, typer.Option(min=3.0, help="Seconds a claimed job stays ours without a heartbeat.")] = 30.0,
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between looks for queued jobs.")] = 1.0,
) -> None:
    """Train queued iterations (and run batch predictions started over HTTP) until stopped.

    Ctrl-C or SIGTERM: finish the current job, then exit."""
    from sightline.batch import jobs as batch_jobs

    with open_workspace() as ws:
        runner = Worker(ws, lease_seconds=lease, poll_seconds=poll, other_jobs=[batch_jobs.run_next])
        thread = threading.Thread(target=runner.run_forever, name="sightline-worker", daemon=True)
        stops = 0

        def stop(signum: int, _frame: object) -> None:
            nonlocal stops
            stops += 1
            if stops > 1:  # a second signal: leave now; the lease lapses and another worker retries the job
                raise typer.Exit(130)
            runner.stop()
            err_console.print(f"{signal.Signals(signum).name}: stopping after the current job (again to quit now)")

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            err_console.print("worker started; Ctrl-C or SIGTERM stops it after the current job")
            thread.start()
            while thread.is_alive():
                thread.join(0.5)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    err_console.print("worker stopped")
