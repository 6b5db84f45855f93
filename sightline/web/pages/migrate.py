"""Leaving Azure from the browser: a form that runs `sightline.migration.migrate` in a background thread.

The endpoint, key and project names are checked before the copy starts, so a wrong key or endpoint is
one line on the form. The copy itself may take minutes: it runs in a thread of this server, and the page
shows each run's progress (images done per project) and, once finished, its summary; while one runs the
page refreshes itself every few seconds. Runs are kept in memory only (a restart forgets the list, not
what was copied: re-running copies only what is missing).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sightline import migration
from sightline.codes import ErrorCode
from sightline.errors import InvalidRequestError, SightlineError
from sightline.http.context import WS, AppDomains
from sightline.service import Workspace
from sightline.web.render import page, redirect

log = logging.getLogger(__name__)
router = APIRouter()


@dataclass
class MigrationRun:
    """One copy started from the form: what it copies and how far it got."""

    number: int
    endpoint: str
    names: list[str]
    train: bool
    started: float = field(default_factory=time.time)
    progress: dict[str, tuple[int, int]] = field(default_factory=dict)
    reports: list[migration.ProjectReport] = field(default_factory=list)
    error: str | None = None
    finished: bool = False

    @property
    def status(self) -> str:
        if not self.finished:
            return "copying"
        if self.error:
            return "failed"
        return "done, with failed images" if any(r.errors for r in self.reports) else "done"


class MigrationRuns:
    """The runs of this server process, newest first; one thread per run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: list[MigrationRun] = []

    def all(self) -> list[MigrationRun]:
        with self._lock:
            return list(reversed(self._runs))

    def start(
        self, ws: Workspace, endpoint: str, key: str, names: list[str], *, backbone: str, train: bool
    ) -> MigrationRun:
        with self._lock:
            run = MigrationRun(len(self._runs) + 1, endpoint, names, train)
            self._runs.append(run)
        thread = threading.Thread(
            target=self._copy, args=(run, ws, key, backbone), name=f"migration-{run.number}", daemon=True
        )
        thread.start()
        return run

    @staticmethod
    def _copy(run: MigrationRun, ws: Workspace, key: str, backbone: str) -> None:
        def progress(name: str, done: int, total: int) -> None:
            run.progress[name] = (done, total)

        try:
            run.reports = migration.migrate(
                ws, run.endpoint, key, projects_wanted=run.names, backbone=backbone, train=run.train, progress=progress
            )
        except SightlineError as error:
            run.error = str(error)
        except Exception:  # a bug: said plainly here, with its traceback in the server log
            log.exception("migration %d failed", run.number)
            run.error = "an unexpected error stopped the copy (the server log has the details); run it again"
        finally:
            run.finished = True


def _runs(request: Request) -> MigrationRuns:
    state = request.app.state
    if getattr(state, "migration_runs", None) is None:
        state.migration_runs = MigrationRuns()
    return state.migration_runs


@router.get("/migrate", response_class=HTMLResponse)
def migrate_page(request: Request, domains: AppDomains) -> HTMLResponse:
    runs = _runs(request).all()
    return page(
        request,
        "migrate.html",
        section="projects",
        runs=runs,
        copying=any(not r.finished for r in runs),
        domains=domains.backbones,
    )


@router.post("/migrate")
def start_migration(
    request: Request,
    ws: WS,
    domains: AppDomains,
    endpoint: Annotated[str, Form()],
    training_key: Annotated[str, Form()],
    projects: Annotated[str, Form()] = "",
    domain: Annotated[str | None, Form()] = None,
    train: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    endpoint, training_key = endpoint.strip(), training_key.strip()
    if not endpoint.startswith(("http://", "https://")):
        raise InvalidRequestError("the endpoint must be a URL, e.g. https://NAME.cognitiveservices.azure.com")
    if not training_key:
        raise InvalidRequestError("the training key is missing")
    if domain is not None and domain not in domains.backbones:
        raise InvalidRequestError(f"{domain!r} is not a domain this server offers", ErrorCode.BadRequestInvalidDomain)
    wanted = [name.strip() for name in projects.replace("\n", ",").split(",") if name.strip()]
    names = migration.check_source(endpoint, training_key, wanted)  # a wrong key or endpoint: said now
    if not names:
        raise InvalidRequestError(f"{endpoint} has no projects to copy")
    run = _runs(request).start(ws, endpoint, training_key, names, backbone=domain or domains.default, train=train)
    return redirect("/migrate", notice=f"Copy {run.number} started: {', '.join(names)}.")
