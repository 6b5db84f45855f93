"""What every workflow command shares: the workspace it opens, and the question before destroying things."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from sightline.commands.render import err_console, fail
from sightline.service import Workspace

#: The options and arguments that many commands take, spelled once.
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output (JSON on stdout).")]
ProjectArg = Annotated[str, typer.Argument(help="Project id or name.", show_default=False)]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


@contextmanager
def open_workspace() -> Iterator[Workspace]:
    """The configured workspace (SIGHTLINE_HOME, SIGHTLINE_DATABASE_URL, SIGHTLINE_BLOB_URL), closed afterwards."""
    ws = Workspace.open()
    try:
        yield ws
    finally:
        ws.close()


def confirm_or_stop(action: str, *, yes: bool) -> None:
    """Go on when `--yes` was given or the person at the terminal agrees; without a terminal, refuse.

    `action` completes "refusing to ...", e.g. "delete project 'Shapes' and its 60 images".
    """
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"refusing to {action} without confirmation: pass --yes")
    if not typer.confirm(f"{action[0].upper()}{action[1:]}?", default=False):
        err_console.print("nothing changed")
        raise typer.Exit(1)
