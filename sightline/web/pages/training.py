"""Train: warnings before training, the button, live progress, cancel, and the iterations so far."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sightline.codes import IterationStatus
from sightline.http.context import WS
from sightline.reporting import performance as reporting
from sightline.reporting.duplicates import duplicate_warnings
from sightline.reporting.fine_tune import fine_tune_sentence
from sightline.service import Workspace, iterations, performance, projects, training
from sightline.service.advanced import can_fine_tune
from sightline.service.views import IterationView
from sightline.web.render import page, redirect

router = APIRouter()

#: Engine phase names as a person reads them.
PHASES = {
    "embedding": "Reading images",
    "cross_validation": "Cross-validating",
    "calibration": "Calibrating",
    "final_fit": "Fitting the final model",
    "novelty": "Learning what is unfamiliar",
    "evaluation": "Evaluating",
    "fine_tuning": "Fine-tuning the backbone (epoch)",
}


def _elapsed(view: IterationView) -> float | None:
    """Seconds since a worker took the iteration up (or its training time, once done)."""
    if view.training_seconds is not None and not view.status.is_running:
        return view.training_seconds
    start = view.started_at or (view.created if view.status.is_running else None)
    return (datetime.now(UTC) - start).total_seconds() if start else None


def duration(seconds: float | None) -> str:
    """72.4 → "1:12"; a missing time is a dash."""
    if seconds is None:
        return "–"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


def _phase_label(view: IterationView) -> str:
    """Said the same way as the status beside it: a queued iteration waits, a training one has begun."""
    if view.progress_phase:
        return PHASES.get(view.progress_phase, view.progress_phase)
    return "Waiting for a worker to take it up" if view.status == IterationStatus.QUEUED else "Starting"


def _result(ws: Workspace, project_id: str, latest: IterationView | None) -> dict | None:
    """The headline of the newest finished iteration: its figures and where to read more."""
    if latest is None or latest.status.is_running:
        return None
    result: dict = {"iteration": latest, "figures": None}
    if latest.status == IterationStatus.COMPLETED:
        _, report = performance.iteration_report(ws, project_id, latest.id)
        if report:
            headline = ("precision", "recall", "mAP" if report.multilabel else "accuracy")
            overall = reporting.overall(report)
            result["figures"] = {k: overall[k] for k in headline if overall.get(k) is not None}
            result["threshold"] = report.threshold
            result["fine_tune"] = report.fine_tune
            result["fine_tune_text"] = fine_tune_sentence(report.fine_tune) if report.fine_tune else None
    return result


def progress_json(view: IterationView) -> dict:
    """What the Train page's script polls: status, phase, n of N, elapsed seconds."""
    return {
        "id": view.id,
        "name": view.name,
        "status": view.status,
        "running": view.status.is_running,
        "phase": view.progress_phase,
        "phaseLabel": _phase_label(view),
        "done": view.progress_done,
        "total": view.progress_total,
        "elapsedSeconds": _elapsed(view),
        "elapsedText": duration(_elapsed(view)),
        "error": view.error,
        "duplicateWarnings": [w.text for w in duplicate_warnings(view.duplicate_checks)],
    }


@router.get("/projects/{project_id}/train", response_class=HTMLResponse)
def train_page(request: Request, ws: WS, project_id: str) -> HTMLResponse:
    project = projects.get_project(ws, project_id)
    history = list(reversed(iterations.list_iterations(ws, project.id)))
    running = next((i for i in history if i.status.is_running), None)
    return page(
        request,
        "train.html",
        project=project,
        tab="train",
        preflight=training.preflight(ws, project.id),
        iterations=history,
        running=running,
        result=_result(ws, project.id, history[0] if history else None),
        duplicate_warnings=duplicate_warnings(history[0].duplicate_checks) if history else [],
        progress=progress_json(running) if running else None,
        durations={i.id: duration(_elapsed(i)) for i in history},
        min_images=training.MIN_IMAGES_PER_TAG,
        can_fine_tune=can_fine_tune(project.domain),
    )


@router.post("/projects/{project_id}/train")
def train(
    ws: WS,
    project_id: str,
    force: Annotated[bool, Form()] = False,
    training_type: Annotated[str, Form()] = "Regular",
    budget_minutes: Annotated[int, Form(ge=1, le=24 * 60)] = 60,
) -> RedirectResponse:
    options = None
    if training_type == "Advanced":
        hours = -(-budget_minutes // 60)  # Custom Vision's whole hours, rounded up; the minutes are the budget
        options = training.TrainingOptions(
            training_type="Advanced", reserved_budget_in_hours=hours, budget_seconds=60.0 * budget_minutes
        )
    started = training.start_training(ws, project_id, force=force, options=options)
    return redirect(f"/projects/{project_id}/train", notice=f"{started.name} queued for training.")


@router.post("/projects/{project_id}/iterations/{iteration_id}/cancel")
def cancel(ws: WS, project_id: str, iteration_id: str) -> RedirectResponse:
    view = iterations.cancel_training(ws, project_id, iteration_id)
    return redirect(f"/projects/{project_id}/train", notice=f"Cancelling {view.name}.")


@router.get("/projects/{project_id}/iterations/{iteration_id}/progress.json")
def progress(ws: WS, project_id: str, iteration_id: str) -> dict:
    return progress_json(iterations.get_iteration(ws, project_id, iteration_id))
