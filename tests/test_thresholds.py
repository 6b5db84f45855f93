"""Thresholds that act: set per tag through the service, the CLI, the web form and the API, they change the
next prediction's `above_threshold`; every prediction echoes each tag's threshold and says why it is uncertain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import run_async
from shapes_project import shapes_project
from typer.testing import CliRunner

from sightline.api.keys import load_keys
from sightline.app import create_app
from sightline.cli import app as cli_app
from sightline.errors import InvalidRequestError
from sightline.service import Worker, Workspace, iterations, predictions, thresholds, training
from sightline.service.views import PredictedTag
from sightline.synthetic import make_image, to_jpeg

PROBE = to_jpeg(make_image(["square"], seed=4242))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, sightline_home: Path) -> Iterator[tuple[Workspace, str]]:
    """A trained and published Multiclass shapes project in a workspace under SIGHTLINE_HOME (the CLI's too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIGHTLINE_HOME", str(tmp_path_factory.mktemp("thresholds") / "home"))
        patch.setenv("SIGHTLINE_CACHE", str(sightline_home / "cache"))
        patch.delenv("SIGHTLINE_DATABASE_URL", raising=False)
        patch.delenv("SIGHTLINE_BLOB_URL", raising=False)
        ws = Workspace.open()
        project = shapes_project(ws, "Shapes", 8)
        queued = training.start_training(ws, project.id)
        Worker(ws).run_once()
        iterations.publish_iteration(ws, project.id, queued.id, "production")
        try:
            yield ws, project.id
        finally:
            ws.close()


@pytest.fixture
def trained(workspace: tuple[Workspace, str]) -> tuple[Workspace, str]:
    """The shared project with its thresholds back to one project threshold of 0.5."""
    ws, project_id = workspace
    thresholds.set_thresholds(ws, project_id, clear=True, threshold=0.5)
    return workspace


def _next(ws: Workspace, project_id: str) -> dict[str, PredictedTag]:
    (view,) = predictions.predict(ws, project_id, [PROBE], store=False)
    return {p.tag_name: p for p in view.predictions}


def _top_and_low(ws: Workspace, project_id: str) -> tuple[str, str]:
    ranked = sorted(_next(ws, project_id).values(), key=lambda p: -p.probability)
    return ranked[0].tag_name, ranked[-1].tag_name


def test_per_tag_thresholds_through_the_service_act_on_the_next_prediction(trained):
    ws, project_id = trained
    before = _next(ws, project_id)
    assert all(p.threshold == 0.5 for p in before.values())
    top, low = _top_and_low(ws, project_id)
    view = thresholds.set_thresholds(ws, project_id, tags={top: 1.0, low: 0.0})
    assert view.per_tag == {top: 1.0, low: 0.0} and view.tags[top] == 1.0
    after = _next(ws, project_id)
    assert after[top].threshold == 1.0 and not after[top].above_threshold
    assert after[low].threshold == 0.0 and after[low].above_threshold
    (view,) = predictions.predict(ws, project_id, [PROBE], store=True)
    assert view.uncertain and view.reasons[0].code == "below_threshold" and view.reasons[0].threshold == 1.0
    (stored,) = predictions.list_predictions(ws, project_id)
    assert stored.reasons == view.reasons and stored.predictions[0].threshold == 1.0

    cleared = thresholds.set_thresholds(ws, project_id, clear=True, threshold=0.3)
    assert cleared.per_tag == {} and set(cleared.tags.values()) == {0.3}
    assert all(p.threshold == 0.3 for p in _next(ws, project_id).values())


def test_suggested_thresholds_apply_in_one_step_and_bad_values_change_nothing(trained):
    ws, project_id = trained
    best = thresholds.set_thresholds(ws, project_id, suggested="best-f1")
    assert best.per_tag == best.suggested and len(best.per_tag) == 3
    strict = thresholds.set_thresholds(ws, project_id, suggested="precision", target_precision=0.99)
    assert set(strict.per_tag) == set(best.tags) and all(0.0 <= v <= 1.0 for v in strict.per_tag.values())
    for bad in ({"tags": {"nonesuch": 0.5}}, {"tags": {"circle": 1.5}}, {"suggested": "precision"}):
        with pytest.raises(InvalidRequestError):
            thresholds.set_thresholds(ws, project_id, **bad)
    assert thresholds.get_thresholds(ws, project_id).per_tag == strict.per_tag


def test_the_cli_shows_and_sets_per_tag_thresholds(trained, tmp_path: Path):
    ws, project_id = trained
    top, _ = _top_and_low(ws, project_id)
    runner = CliRunner()
    shown = runner.invoke(cli_app, ["thresholds", "Shapes"])
    assert shown.exit_code == 0 and "project threshold 0.5" in shown.stdout and top in shown.stdout
    result = runner.invoke(cli_app, ["thresholds", "Shapes", "--tag", f"{top}=0.999", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["per_tag"] == {top: 0.999}
    assert not _next(ws, project_id)[top].above_threshold
    probe = tmp_path / "probe.jpg"
    probe.write_bytes(PROBE)
    predicted = runner.invoke(cli_app, ["predict", "Shapes", "--json", "--no-store", str(probe)])
    (answer,) = json.loads(predicted.stdout)
    assert {p["tag_name"]: p["threshold"] for p in answer["predictions"]}[top] == 0.999
    assert any(r["code"] == "below_threshold" for r in answer["reasons"])
    wrong = runner.invoke(cli_app, ["thresholds", "Shapes", "--tag", "circle"])
    assert wrong.exit_code == 2 and "TAG=VALUE" in wrong.output
    unknown_tag = runner.invoke(cli_app, ["thresholds", "Shapes", "--tag", "nonesuch=0.4"])
    assert unknown_tag.exit_code == 1


def _client(ws: Workspace) -> tuple[httpx.AsyncClient, str]:
    app = create_app(ws, start_worker=False, backbones=["tiny"])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test"), load_keys(ws).training_key


def test_the_api_reads_and_sets_thresholds_and_predictions_echo_them(trained):
    ws, project_id = trained
    top, low = _top_and_low(ws, project_id)
    iteration = iterations.get_iteration(ws, project_id).id
    url = f"/customvision/v3.3/training/projects/{project_id}/iterations/{iteration}/thresholds"

    async def run() -> tuple[httpx.Response, ...]:
        client, key = _client(ws)
        async with client:
            headers = {"Training-Key": key}
            shown = await client.get(url, headers=headers)
            tag_id = next(t["tagId"] for t in shown.json()["tags"] if t["tagName"] == low)
            changed = await client.put(url, headers=headers, json={"tags": {tag_id: 0.0, top: 1.0}})
            bad = await client.put(url, headers=headers, json={"tags": {top: 2}})
            predicted = await client.post(
                f"/customvision/v3.0/prediction/{project_id}/classify/iterations/production/image/nostore",
                headers={"Prediction-Key": load_keys(ws).prediction_key},
                content=PROBE,
            )
            return shown, changed, bad, predicted

    shown, changed, bad, predicted = run_async(run())
    assert shown.status_code == 200 and shown.json()["threshold"] == 0.5
    assert changed.status_code == 200
    assert {t["tagName"]: t["own"] for t in changed.json()["tags"]} == {
        "circle": False,
        "square": False,
        "triangle": False,
    } | {top: True, low: True}
    assert bad.status_code == 400 and bad.json()["code"].startswith("BadRequest")
    body = predicted.json()
    by_name = {p["tagName"]: p for p in body["predictions"]}
    assert by_name[top]["threshold"] == 1.0 and not by_name[top]["aboveThreshold"]
    assert by_name[low]["aboveThreshold"]
    assert (
        body["uncertain"] and body["reasons"][0]["code"] == "below_threshold" and body["reasons"][0]["threshold"] == 1.0
    )


def test_the_web_form_sets_per_tag_thresholds(trained):
    ws, project_id = trained
    top, _ = _top_and_low(ws, project_id)
    iteration = iterations.get_iteration(ws, project_id).id

    async def run() -> tuple[httpx.Response, httpx.Response]:
        client, key = _client(ws)
        async with client:
            await client.get(f"/login?token={key}")
            page = await client.get(f"/projects/{project_id}/performance")
            form = {"apply": "save", "threshold": "0.5"} | {f"tag:{t}": "0.5" for t in ("circle", "square", "triangle")}
            posted = await client.post(
                f"/projects/{project_id}/iterations/{iteration}/thresholds", data=form | {f"tag:{top}": "0.999"}
            )
            return page, posted

    page, posted = run_async(run())
    assert page.status_code == 200 and 'id="thresholds-form"' in page.text and f'name="tag:{top}"' in page.text
    assert posted.status_code == 303
    assert thresholds.get_thresholds(ws, project_id).per_tag == {top: 0.999}
    assert not _next(ws, project_id)[top].above_threshold
