"""`sightline demo`: the whole Custom Vision workflow on real photos, on the embedded defaults.

Creates a project in SIGHTLINE_HOME, uploads the labelled clothing photos shipped in the package
(`sightline/data/demo/`, CC0), trains (cross-validation, calibration), shows the performance,
quick-tests new photos and one unlike anything trained on, tags a photo with no training, and
publishes. It runs on the default backbone; where that cannot be had (no hub access), on the
packaged EfficientNet-Lite0, whose ImageNet features are real: the figures are real figures.
"""

from __future__ import annotations

import contextlib
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.text import Text

from sightline.codes import IterationStatus
from sightline.commands.context import open_workspace
from sightline.commands.predict import print_prediction
from sightline.commands.render import print_report
from sightline.commands.training import train_and_watch
from sightline.errors import ModelNotFoundError, NotFoundError
from sightline.service import images, iterations, predictions, projects, tags, training
from sightline.service.engine import PACKAGED_DEFAULT, load_backbone, new_tagger, resolve_backbone_name
from sightline.service.images import NewImage
from sightline.service.performance import trained_report
from sightline.synthetic import make_lens_cap_image, to_jpeg

PROJECT = "Sightline demo (clothing)"
PUBLISH_NAME = "demo"


def demo_photos() -> Path:
    """The shipped photos: `train/<tag>/*.jpg` and `new/*.jpg` (see its README.md and LICENSE)."""
    return Path(str(resources.files("sightline") / "data" / "demo"))


def _choose_backbone(console: Console, name: str) -> str:
    wanted = resolve_backbone_name(name)
    try:
        load_backbone(wanted)
        return wanted
    except ModelNotFoundError as error:
        if wanted == PACKAGED_DEFAULT:
            raise
        console.print(Text.assemble(("note: ", "yellow"), str(error)))
        console.print(f"Running the demo on {PACKAGED_DEFAULT}, the ImageNet model that comes with the package.\n")
        return PACKAGED_DEFAULT


def run_demo(console: Console, backbone: str = "default") -> None:
    domain = _choose_backbone(console, backbone)
    folder = demo_photos()
    tag_names = sorted(p.name for p in (folder / "train").iterdir() if p.is_dir())
    with open_workspace() as ws:
        with contextlib.suppress(NotFoundError):
            projects.delete_project(ws, PROJECT)  # a fresh run each time
        project = projects.create_project(ws, PROJECT, classification_type="Multiclass", domain=domain)
        console.rule(f"1. project {project.name!r} on backbone {domain}")
        for name in tag_names:
            tags.create_tag(ws, project.id, name)
        uploads = [
            NewImage(path.read_bytes(), name=f"{name}-{path.name}", tags=[name])
            for name in tag_names
            for path in sorted((folder / "train" / name).glob("*.jpg"))
        ]
        results = images.add_images(ws, project.id, uploads)
        console.print(
            f"uploaded {sum(r.ok for r in results)} real product photos (clothing-dataset-small, CC0): "
            f"{', '.join(tag_names)}"
        )

        console.rule("2. train: embed, cross-validate, calibrate")
        done = train_and_watch(ws, training.start_training(ws, project.id))
        console.print(f"{done.name}: {done.status} in {done.training_seconds or 0:.1f} s")
        if done.status != IterationStatus.COMPLETED:
            console.print(Text(f"training did not complete: {done.error}", style="red"))
            return
        print_report(trained_report(ws, project.id, done.id)[1])

        console.rule("3. quick test: new photos, and one taken with the lens cap on")
        tests = {f"new/{p.name}": p.read_bytes() for p in sorted((folder / "new").glob("*.jpg"))}
        tests["lens-cap-on.jpg"] = to_jpeg(make_lens_cap_image(seed=99_003))
        for name, result in zip(tests, predictions.predict(ws, project.id, list(tests.values())), strict=True):
            print_prediction(name, result)

        _tag_one(console, domain, folder / "new" / "t-shirt-1.jpg")

        console.rule("5. publish and call it")
        iterations.publish_iteration(ws, project.id, done.id, PUBLISH_NAME)
        console.print(f"published {done.name} as {PUBLISH_NAME!r}. Next, try:")
        for command in (
            f'sightline predict "{PROJECT}" photo.jpg --name {PUBLISH_NAME}',
            f'sightline iterations show "{PROJECT}"',
            f'sightline report "{PROJECT}" --out report.html',
            "sightline tag photo.jpg",
            "sightline --help",
        ):
            console.print(Text(f"  {command}", style="cyan"))


def _tag_one(console: Console, backbone: str, photo: Path) -> None:
    """Pre-built tagging: what is in the photo, with no training at all."""
    console.rule(f"4. pre-built tags, no training: {photo.name}")
    result = new_tagger(backbone, threshold=0.2, top=8).tag([photo])[0]
    shown = ", ".join(f"{t.name} {t.confidence:.2f}" for t in result.tags) or "no tag reaches 0.2"
    console.print(f"  {shown}")
