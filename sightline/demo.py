"""`sightline demo`: the whole Custom Vision workflow on generated photos, on the embedded defaults.

Creates a project in SIGHTLINE_HOME, uploads labelled images, trains (cross-validation, calibration),
shows the performance, tests new images (one of them unlike anything trained on), and publishes.
When the default model's weights cannot be had (offline), it says so and uses `tiny`, whose
random features show the workflow but not real accuracy.
"""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.text import Text

from sightline.backbones import create_backbone, default_backbone_name
from sightline.commands.context import open_workspace
from sightline.commands.predict import print_prediction
from sightline.commands.render import print_report
from sightline.commands.training import train_and_watch
from sightline.errors import ModelNotFoundError, NotFoundError
from sightline.service import images, iterations, predictions, projects, tags, training
from sightline.service.images import NewImage
from sightline.service.performance import iteration_report
from sightline.synthetic import KINDS, make_image, make_lens_cap_image, to_jpeg

PROJECT = "Sightline demo (shapes)"
PUBLISH_NAME = "demo"
PER_TAG = 15


def _choose_backbone(console: Console, name: str) -> str:
    wanted = default_backbone_name() if name == "default" else name
    try:
        create_backbone(wanted)
        return wanted
    except ModelNotFoundError as error:
        console.print(Text.assemble(("note: ", "yellow"), str(error)))
        console.print(
            Text(
                "Running the demo on `tiny`, a small model with RANDOM weights built on this machine: "
                "the numbers below show the workflow, not real-world accuracy.\n"
            )
        )
        return "tiny"


def run_demo(console: Console, backbone: str = "default") -> None:
    domain = _choose_backbone(console, backbone)
    with open_workspace() as ws:
        with contextlib.suppress(NotFoundError):
            projects.delete_project(ws, PROJECT)  # a fresh run each time
        project = projects.create_project(ws, PROJECT, classification_type="Multiclass", domain=domain)
        console.rule(f"1. project {project.name!r} on backbone {domain}")
        for kind in KINDS:
            tags.create_tag(ws, project.id, kind)
        uploads = [
            NewImage(to_jpeg(make_image([kind], seed=k * 1000 + i)), name=f"{kind}-{i:02}.jpg", tags=[kind])
            for k, kind in enumerate(KINDS)
            for i in range(PER_TAG)
        ]
        results = images.add_images(ws, project.id, uploads)
        console.print(f"uploaded {sum(r.ok for r in results)} images, {PER_TAG} per tag: {', '.join(KINDS)}")

        console.rule("2. train: embed, cross-validate, calibrate")
        done = train_and_watch(ws, training.start_training(ws, project.id))
        console.print(f"{done.name}: {done.status} in {done.training_seconds or 0:.1f} s")
        if done.status != "Completed":
            console.print(Text(f"training did not complete: {done.error}", style="red"))
            return
        print_report(iteration_report(ws, project.id, done.id)[1])

        console.rule("3. quick test: two new shapes, and a photo taken with the lens cap on")
        tests = {
            "new-circle.jpg": to_jpeg(make_image(["circle"], seed=99_001)),
            "new-star.jpg": to_jpeg(make_image(["star"], seed=99_002)),
            "lens-cap-on.jpg": to_jpeg(make_lens_cap_image(seed=99_003)),
        }
        for name, result in zip(tests, predictions.predict(ws, project.id, list(tests.values())), strict=True):
            print_prediction(name, result)

        console.rule("4. publish and call it")
        iterations.publish_iteration(ws, project.id, done.id, PUBLISH_NAME)
        console.print(f"published {done.name} as {PUBLISH_NAME!r}. Next, try:")
        for command in (
            f'sightline predict "{PROJECT}" photo.jpg --name {PUBLISH_NAME}',
            f'sightline iterations show "{PROJECT}"',
            f'sightline report "{PROJECT}" --out report.html',
            "sightline --help",
        ):
            console.print(Text(f"  {command}", style="cyan"))
