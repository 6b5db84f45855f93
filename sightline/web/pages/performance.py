"""Performance of an iteration: figures, the threshold slider, PR curves, confusion, reliability, mistakes.

Every number is the service's report (`service.performance`), read through `sightline.reporting` like
the CLI's `sightline report`. The threshold slider's JSON twin (`performance.json`) recomputes precision
and recall from the stored out-of-fold predictions; without JavaScript the same form reloads the page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from sightline.codes import IterationStatus
from sightline.errors import InvalidRequestError
from sightline.http.context import WS
from sightline.reporting import figures
from sightline.reporting import performance as reporting
from sightline.reporting.duplicates import duplicate_warnings
from sightline.service import Workspace, duplicates, iterations, performance, projects, thresholds
from sightline.service.views import IterationView
from sightline.web.render import page, redirect

router = APIRouter()

Threshold = Annotated[float | None, Query(ge=0.0, le=1.0)]
MISTAKES_SHOWN = 24


def _chosen(ws: Workspace, project_id: str, iteration: str | None) -> tuple[list[IterationView], str | None]:
    """The completed iterations (for the picker) and the one to show: asked for, else the latest completed."""
    completed = iterations.completed_iterations(ws, project_id)
    return completed, iteration or (completed[-1].id if completed else None)


def _charts(report: performance.Report) -> dict[str, str | None]:
    """PR curves and the reliability diagram as PNG data URIs (the confusion matrix is an HTML table)."""
    rows, curves = reporting.tag_rows(report), reporting.curves(report)
    before, after = reporting.reliability(report, "before"), reporting.reliability(report, "after")
    return {
        "pr_curves": figures.pr_curves(curves, rows) if curves else None,
        "reliability": figures.reliability(before, after, report.ece_before_calibration, report.ece_after_calibration)
        if before or after
        else None,
    }


def _gallery(ws: Workspace, project_id: str, outcomes: list[reporting.Outcome]) -> list[dict[str, Any]]:
    """Outcomes with the id of their image today (None: deleted since training), for thumbnails and links."""
    ids = performance.image_ids_by_key(ws, project_id, [o.image_key for o in outcomes if o.image_key])
    return [{"outcome": o, "image_id": ids.get(o.image_key or "")} for o in outcomes]


@router.get("/projects/{project_id}/performance", response_class=HTMLResponse)
async def performance_page(
    request: Request, ws: WS, project_id: str, iteration: str | None = None, threshold: Threshold = None
) -> HTMLResponse:
    project = projects.get_project(ws, project_id)
    completed, chosen = _chosen(ws, project_id, iteration)
    context: dict[str, Any] = {"project": project, "tab": "performance", "completed": completed, "report": None}
    context["azure_baseline"] = reporting.azure_baseline(project.settings)
    if chosen is not None:
        view, report = performance.iteration_report(ws, project.id, chosen, threshold=threshold)
        held_out = performance.test_set_report(ws, project.id, chosen, threshold=threshold)
        context.update(iteration=view, report=report)
        if report:
            outcomes = reporting.mistakes(report, MISTAKES_SHOWN)
            context.update(
                estimate_basis=reporting.estimate_basis(report),
                held_out=held_out or None,
                held_out_basis=reporting.held_out_basis(held_out) if held_out else None,
                side_by_side=reporting.side_by_side(report, held_out) if held_out else [],
            )
            context.update(
                overall=reporting.overall(report),
                tag_rows=reporting.tag_rows(report),
                charts=await run_in_threadpool(_charts, report),  # matplotlib: keep it off the event loop
                mistakes=_gallery(ws, project.id, outcomes),
                thresholds=thresholds.get_thresholds(ws, project.id, view.id)
                if view.status == IterationStatus.COMPLETED
                else None,
            )
            found = duplicates.duplicate_report(ws, project.id, view.id)
            context.update(duplicates=found, duplicate_warnings=duplicate_warnings(found.checks))
    return page(request, "performance.html", **context)


@router.get("/projects/{project_id}/performance.json")
def performance_json(ws: WS, project_id: str, iteration: str | None = None, threshold: Threshold = None) -> dict:
    """The slider's twin: precision and recall, overall and per tag, at `threshold` (default: the trained one)."""
    chosen = _chosen(ws, project_id, iteration)[1]
    view, report = performance.trained_report(ws, project_id, chosen, threshold=threshold)
    return {
        "iteration": {"id": view.id, "name": view.name},
        "threshold": report.threshold,
        "precision": report.precision,
        "recall": report.recall,
        "per_tag": [
            {
                "tag": r.tag,
                "precision": r.precision,
                "precision_std": r.precision_std,
                "recall": r.recall,
                "recall_std": r.recall_std,
            }
            for r in reporting.tag_rows(report)
        ],
    }


@router.get("/projects/{project_id}/performance/confusion", response_class=HTMLResponse)
def confusion_cell(
    request: Request, ws: WS, project_id: str, actual: str, predicted: str, iteration: str | None = None
) -> HTMLResponse:
    """The images behind one confusion-matrix cell: tagged `actual`, predicted `predicted` (out of fold)."""
    project = projects.get_project(ws, project_id)
    chosen = _chosen(ws, project_id, iteration)[1]
    view, report = performance.trained_report(ws, project.id, chosen)
    outcomes = reporting.confusion_cell(report, actual, predicted)
    return page(
        request,
        "performance_cell.html",
        project=project,
        tab="performance",
        iteration=view,
        actual=actual,
        predicted=predicted,
        images=_gallery(ws, project.id, outcomes),
    )


@router.post("/projects/{project_id}/iterations/{iteration_id}/thresholds")
async def set_thresholds(request: Request, ws: WS, project_id: str, iteration_id: str) -> RedirectResponse:
    """The thresholds form: the project's threshold and each tag's (`tag:NAME` fields), or the suggested ones
    in one step (`apply` = best-f1, precision with `target_precision`, or project)."""
    form = await request.form()
    apply = str(form.get("apply") or "save")
    view = thresholds.get_thresholds(ws, project_id, iteration_id)
    if apply == "best-f1":
        done = thresholds.set_thresholds(ws, project_id, iteration_id, suggested="best-f1")
    elif apply == "precision":
        target = _number(form.get("target_precision"), "target precision")
        done = thresholds.set_thresholds(ws, project_id, iteration_id, suggested="precision", target_precision=target)
    elif apply == "project":
        done = thresholds.set_thresholds(ws, project_id, iteration_id, clear=True)
    else:
        project_threshold = _number(form.get("threshold"), "threshold")
        per_tag = {}
        for name, current in view.tags.items():
            value = _number(form.get(f"tag:{name}"), f"the threshold of {name!r}")
            if name in view.per_tag or abs(value - current) > 1e-9:
                per_tag[name] = value
        done = thresholds.set_thresholds(ws, project_id, iteration_id, threshold=project_threshold, tags=per_tag)
    return redirect(
        f"/projects/{project_id}/performance?iteration={iteration_id}",
        notice=f"Thresholds of {done.iteration_name} saved: the next predictions use them.",
    )


def _number(value: object, what: str) -> float:
    try:
        return float(str(value))
    except ValueError:
        raise InvalidRequestError(f"{what} must be a number between 0 and 1, not {value!r}") from None
