"""`sightline gc`: remove blobs that no row refers to (left by killed uploads, or by older versions)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sightline.commands.context import AsJson, open_workspace
from sightline.service.cleanup import DEFAULT_GRACE_SECONDS, collect_garbage


def gc(
    grace: Annotated[
        float,
        typer.Option(min=0, help="Keep unreferenced blobs written this many seconds ago or later (uploads in flight)."),
    ] = DEFAULT_GRACE_SECONDS,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be removed.")] = False,
    as_json: AsJson = False,
) -> None:
    """Remove image, thumbnail and model blobs that no project refers to any more. Safe while serving."""
    with open_workspace() as ws:
        report = collect_garbage(ws, grace, dry_run=dry_run)
    if as_json:
        typer.echo(json.dumps({"removed": report.removed, "removedBytes": report.removed_bytes,
                               "keptRecent": report.kept_recent, "dryRun": dry_run}))  # fmt: skip
        return
    verb = "would remove" if dry_run else "removed"
    typer.echo(
        f"{verb} {report.removed} unreferenced files ({report.removed_bytes:,} bytes); "
        f"kept {report.kept_recent} written in the last {grace:g} s"
    )
