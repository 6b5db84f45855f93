"""`sightline review`: the review queue in the terminal, as the web's Predictions page has it.

Each stored prediction not yet reviewed is shown (unknown and uncertain first, with their reasons in
words), then one key decides it: accept the predicted tag(s), pick the right tag by number, type a new
tag, mark it "none of these" (the project's Negative tag), skip it, discard it, or quit. A review adds
the image to the training set (`service.review`); the next training uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from sightline.commands.context import ProjectArg, open_workspace
from sightline.commands.predict import print_prediction
from sightline.commands.render import console, err_console
from sightline.errors import SightlineError
from sightline.service import Workspace, projects, review, tags
from sightline.service.views import PredictionView, TagView

_HELP = "a accept, 1-9 pick the tag (several: 1 3), n new tag, x none of these, s skip, d discard, q quit"
_PROMPT = "  a/1-9/n/x/s/d/q (? for help)"


@dataclass
class _Tally:
    reviewed: int = 0
    skipped: int = 0
    discarded: int = 0


def review_command(
    project: ProjectArg,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Stop after this many images.")] = 1000,
) -> None:
    """Work the review queue: accept, correct, "none of these", skip or discard each uncertain prediction.

    Reads one answer per line from the terminal (or stdin): a accept, 1-9 pick, n new tag,
    x none of these, s skip, d discard, q quit.
    """
    tally = _Tally()
    emptied = False
    console.print(f"Answers: {_HELP}.", markup=False, soft_wrap=False)  # wrapped at the width
    with open_workspace() as ws:
        found = projects.get_project(ws, project)
        multilabel = found.classification_type == "Multilabel"
        while tally.reviewed + tally.skipped + tally.discarded < limit:
            queue = review.review_queue(ws, found.id, reviewed=False, take=1, skip=tally.skipped)
            if not queue:
                emptied = True
                break
            if not _decide(ws, found.id, queue[0], multilabel, tally):
                break
    said = f"reviewed {tally.reviewed}, skipped {tally.skipped}, discarded {tally.discarded}"
    rest = "nothing else to review" if emptied and not tally.skipped else "the rest stays in the queue"
    console.print(f"{said}; {rest}" + ("; train again to use the reviewed images" if tally.reviewed else ""))


def _decide(ws: Workspace, project_id: str, item: review.ReviewItem, multilabel: bool, tally: _Tally) -> bool:
    """Show one item and act on the answer; False when the person quits (or input ends)."""
    prediction = item.prediction
    choices = [t for t in tags.list_tags(ws, project_id) if t.type == "Regular"]
    repeats = f" (predicted {item.repeats} times)" if item.repeats > 1 else ""
    console.print()
    print_prediction(Path(f"prediction {prediction.id[:8]}{repeats}"), replace(prediction, stored=False))
    accepted = _accepted(prediction, multilabel)
    console.print(
        Text("  accept: ") + Text(", ".join(accepted) if accepted else "nothing (no tag counts)", style="bold")
    )
    console.print("  " + "  ".join(f"{i}) {t.name}" for i, t in enumerate(choices[:9], 1)), markup=False)
    while True:
        answer = typer.prompt(_PROMPT, default="s", show_default=False).strip().lower()
        if answer in ("?", "h", "help"):
            console.print(f"  {_HELP}", markup=False, soft_wrap=False)
            continue
        try:
            done = _act(ws, project_id, prediction, answer, accepted, choices, multilabel, tally)
        except SightlineError as error:
            err_console.print(Text.assemble(("error:", "red"), f" {error}"))
            continue
        if done is not None:
            return done


def _accepted(prediction: PredictionView, multilabel: bool) -> list[str]:
    """The tag(s) "accept" gives the image: those that pass (the top one for Multiclass); none if unknown."""
    if prediction.unknown:
        return []
    passed = [p.tag_name for p in prediction.predictions if p.above_threshold]
    return passed if multilabel else passed[:1]


def _act(
    ws: Workspace,
    project_id: str,
    prediction: PredictionView,
    answer: str,
    accepted: list[str],
    choices: list[TagView],
    multilabel: bool,
    tally: _Tally,
) -> bool | None:
    """Carry out one answer: True to go on, False to quit, None to ask again."""
    if answer in ("q", "quit"):
        return False
    if answer in ("s", "skip", ""):
        tally.skipped += 1
        return True
    if answer in ("d", "discard"):
        review.discard(ws, project_id, prediction.id)
        tally.discarded += 1
        console.print("  discarded")
        return True
    if answer in ("x", "none"):
        chosen, new = [review.negative_tag(ws, project_id)], list[str]()
    elif answer in ("a", "accept"):
        if not accepted:
            err_console.print("  nothing to accept: pick the right tag, or x for none of these")
            return None
        chosen, new = accepted, []
    elif answer in ("n", "new"):
        typed = typer.prompt("  new tag name(s), comma-separated", default="", show_default=False)
        chosen, new = [], [name.strip() for name in typed.split(",") if name.strip()]
    else:
        chosen, new = _picked(answer, choices, multilabel), []
    if not chosen and not new:
        return None
    outcome = review.review(ws, project_id, prediction.id, chosen, new)
    names = {t.id: t.name for t in tags.list_tags(ws, project_id)}
    said = ", ".join(names.get(t, t) for t in outcome.added_tag_ids) or "its tags (unchanged)"
    console.print(f"  added to the training set as {said}", markup=False)
    tally.reviewed += 1
    return True


def _picked(answer: str, choices: list[TagView], multilabel: bool) -> list[str]:
    """Tag ids for `1 3` (numbers of the list shown); empty, with a message, when the answer is not that."""
    parts = answer.replace(",", " ").split()
    if not parts or not all(p.isdigit() and 1 <= int(p) <= min(len(choices), 9) for p in parts):
        err_console.print(f"  not an answer: {answer!r} (? for help)", markup=False)
        return []
    if len(parts) > 1 and not multilabel:
        err_console.print("  one tag per image in a Multiclass project: pick one number")
        return []
    return [choices[int(p) - 1].id for p in dict.fromkeys(parts)]
