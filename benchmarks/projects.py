"""Projects at scale: importing, training, retraining and predicting 2,000 real photos, on SQLite and PostgreSQL.

Through the service layer exactly as the CLI and the API use it: `importing.import_items` of
clothing-dataset-small's train/ (2,000 images, as balanced over the 10 classes as they allow), a
`Worker` training the queued iteration (MobileNetV1 ONNX backbone from ../shared/models), a forced
retraining (every embedding comes from the database cache), then predictions through a publish name.
Baseline in the same run: the same images through plain `Classifier.fit` with an on-disk embedding
cache in a fresh folder (no database, no blob store), so the cost of the project layer shows.

The machine is shared and its load drifts, so trainings run in rounds, one column after the other in
an order reversed every round (each round starts from an empty embedding cache), and predictions are
timed interleaved across the columns; the table shows medians.

PostgreSQL: a temporary database `sightline_bench_<random>`, created from the `test` database on
127.0.0.1:5432 (user postgres; `SIGHTLINE_BENCH_POSTGRES_URL` to change) and dropped afterwards.

    python benchmarks/projects.py [--images 2000] [--rounds 3] [--predict 100] [--no-postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Protocol

from _common import CLOTHING, EMBEDDING_MODEL, Timer, class_folders, markdown_table, require_shared, write_result
from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url

from sightline import Classifier
from sightline.backbones import DiskEmbeddingCache, create_backbone, embed_images
from sightline.service import Worker, Workspace, iterations, performance, predictions, projects, training
from sightline.service.importing import folder_items, import_items
from sightline.store import BlobStore, Embedding, open_store

BACKBONE = f"onnx:{EMBEDDING_MODEL}"
PG_ADMIN_URL = os.environ.get("SIGHTLINE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BATCH = 25  # images per prediction call in the batch row
PHASES = ["cross_validation", "calibration", "final_fit", "novelty", "evaluation"]

Item = tuple[Path, list[str]]


def balanced(items: list[Item], n: int) -> list[Item]:
    """`n` items taken round-robin over the tags (in file order): classes short of n/k give all they have."""
    by_tag: dict[str, list[Item]] = {}
    for item in items:
        by_tag.setdefault(item[1][0], []).append(item)
    interleaved = [item for row in zip_longest(*by_tag.values()) for item in row if item is not None]
    return interleaved[:n]


@dataclass
class Training:
    """One training, seen from outside (wall) and from inside (the job's own clock and phase timings)."""

    wall: float
    job: float
    phases: dict[str, float]
    new_embeddings: int | None = None  # rows the embedding cache gained (None: not measured)

    @property
    def embedding(self) -> float:
        """Everything in the job outside the timed learning phases: mostly embedding the images."""
        return self.job - sum(self.phases.values())


def median_training(runs: list[Training]) -> Training:
    """Each figure's median over the rounds."""
    return Training(
        wall=statistics.median(r.wall for r in runs),
        job=statistics.median(r.job for r in runs),
        phases={name: statistics.median(r.phases[name] for r in runs) for name in PHASES},
        new_embeddings=runs[0].new_embeddings if len({r.new_embeddings for r in runs}) == 1 else None,
    )


@dataclass
class Run:
    """What one column of the table shows."""

    images: int
    import_seconds: float | None = None
    first: list[Training] = field(default_factory=list)  # one per round
    retrain: list[Training] = field(default_factory=list)
    per_call_ms: list[float] = field(default_factory=list)
    batch_seconds: float = 0.0
    batch_images: int = 0


class Setup(Protocol):
    """One column: something that trains (once per round) and then predicts."""

    run: Run

    def train_round(self, index: int) -> None: ...

    def predict(self, images: list[bytes]) -> object: ...


# -- the project layer --------------------------------------------------------------------------------------


@contextmanager
def temporary_postgres() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped on the way out."""
    import psycopg

    admin = make_url(PG_ADMIN_URL)
    name = f"sightline_bench_{uuid.uuid4().hex[:12]}"
    connect = dict(host=admin.host, port=admin.port or 5432, user=admin.username, password=admin.password)
    with psycopg.connect(**connect, dbname=admin.database, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ProjectSetup:
    """A project in a workspace: imported once, trained by a `Worker`, predicting through a publish name."""

    def __init__(self, ws: Workspace, items: list[Item]):
        self.ws = ws
        self.project_id = projects.create_project(ws, "Clothing", classification_type="Multiclass", domain=BACKBONE).id
        with Timer() as imported:
            report = import_items(ws, self.project_id, items)
        if report.failed or report.added != len(items):
            raise SystemExit(f"import: {report.added} added of {len(items)}; failed: {report.failed[:3]}")
        self.run = Run(len(items), imported.seconds)

    def train_round(self, index: int) -> None:
        with self.ws.session() as session:  # every round embeds from scratch, as a new project would
            session.execute(delete(Embedding))
        self.run.first.append(self._train())
        self.run.retrain.append(self._train())
        if index == 0:
            iterations.publish_iteration(
                self.ws, self.project_id, iterations.get_iteration(self.ws, self.project_id).id, "bench"
            )

    def _train(self) -> Training:
        before = self._embedding_rows()
        queued = training.start_training(self.ws, self.project_id, force=True)  # `train --force`
        with Timer() as wall:
            assert Worker(self.ws).run_once()
        done, report = performance.iteration_report(self.ws, self.project_id, queued.id)
        if done.status != "Completed":
            raise SystemExit(f"training {done.name} ended {done.status}: {done.error}")
        phases = {name: report["timings"].get(name, 0.0) for name in PHASES}
        return Training(wall.seconds, done.training_seconds, phases, self._embedding_rows() - before)

    def _embedding_rows(self) -> int:
        with self.ws.session() as session:
            return session.scalar(select(func.count()).select_from(Embedding)) or 0

    def predict(self, images: list[bytes]) -> object:
        results = predictions.predict(self.ws, self.project_id, images, publish_name="bench")  # stored, as the API does
        assert not any(isinstance(r, Exception) for r in results)
        return results


@contextmanager
def sqlite_project(root: Path, items: list[Item]) -> Iterator[ProjectSetup]:
    ws = Workspace(open_store(f"sqlite:///{root / 'sqlite' / 'sightline.db'}"), BlobStore(str(root / "sqlite-blobs")))
    try:
        yield ProjectSetup(ws, items)
    finally:
        ws.close()


@contextmanager
def postgres_project(root: Path, items: list[Item]) -> Iterator[ProjectSetup]:
    with temporary_postgres() as url:
        ws = Workspace(open_store(url), BlobStore(str(root / "postgres-blobs")))
        try:
            yield ProjectSetup(ws, items)
        finally:
            ws.close()


# -- the baseline: the library alone ------------------------------------------------------------------------


class BaselineSetup:
    """Plain `Classifier.fit` on the image files, with an on-disk embedding cache in a fresh folder per round."""

    def __init__(self, root: Path, items: list[Item]):
        self.root = root
        self.paths, self.labels = [str(p) for p, _ in items], [tags[0] for _, tags in items]
        self.run = Run(len(items))
        self.classifier: Classifier | None = None

    def train_round(self, index: int) -> None:
        cache = DiskEmbeddingCache(self.root / f"baseline-cache-{index}")
        self.run.first.append(self._fit(cache))
        self.run.retrain.append(self._fit(cache))

    def _fit(self, cache: DiskEmbeddingCache) -> Training:
        self.classifier = Classifier(BACKBONE, cache=cache)
        with Timer() as wall:
            self.classifier.fit(self.paths, self.labels)
        phases = {name: self.classifier.evaluate().timings.get(name, 0.0) for name in PHASES}
        return Training(wall.seconds, wall.seconds, phases)

    def predict(self, images: list[bytes]) -> object:
        return self.classifier.predict(images)


# -- prediction ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictionImages:
    warm_up: bytes  # predicted first, untimed: every model is loaded before the clock starts
    singles: list[bytes]  # one per call
    batches: list[list[bytes]]  # other images, several per call


def time_predictions(setups: dict[str, Setup], images: PredictionImages) -> None:
    """Per-call latency and batch speed of each setup, interleaved so that the machine's load hits all alike."""
    for setup in setups.values():
        setup.predict([images.warm_up])
    for data in images.singles:
        for setup in setups.values():
            start = time.perf_counter()
            setup.predict([data])
            setup.run.per_call_ms.append((time.perf_counter() - start) * 1000)
    for batch in images.batches:
        for setup in setups.values():
            with Timer() as call:
                setup.predict(batch)
            setup.run.batch_seconds += call.seconds
            setup.run.batch_images += len(batch)


# -- the table ----------------------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def _rate(seconds: float | None, count: int) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s ({count / seconds:.0f} img/s)"


def _computed(runs: list[Training]) -> str:
    counts = {r.new_embeddings for r in runs}
    return "n/a (disk cache)" if counts == {None} else ", ".join(map(str, sorted(counts)))


def _latency(run: Run) -> str:
    p90 = statistics.quantiles(run.per_call_ms, n=10)[-1]
    return f"{statistics.median(run.per_call_ms):.1f} ({p90:.1f})"


def _first(run: Run) -> Training:
    return median_training(run.first)


def _retrain(run: Run) -> Training:
    return median_training(run.retrain)


ROWS: list[tuple[str, Callable[[Run], str]]] = [
    ("images", lambda r: str(r.images)),
    ("import (read, validate, thumbnail, blob, rows)", lambda r: _rate(r.import_seconds, r.images)),
    ("**first training**, wall", lambda r: _rate(_first(r).wall, r.images)),
    ("  embedding + reading images (job - phases)", lambda r: _seconds(_first(r).embedding)),
    *((f"  {name.replace('_', ' ')}", lambda r, n=name: _seconds(_first(r).phases[n])) for name in PHASES),
    ("  job bookkeeping (claim, report, finish)", lambda r: _seconds(_first(r).wall - _first(r).job)),
    ("  embeddings computed and cached", lambda r: _computed(r.first)),
    ("**retraining** (`train --force`), wall", lambda r: _seconds(_retrain(r).wall)),
    ("  embedding from the cache (job - phases)", lambda r: _seconds(_retrain(r).embedding)),
    ("  embeddings computed", lambda r: _computed(r.retrain)),
    ("**prediction**, 1 image per call: img/s", lambda r: f"{1000 / statistics.mean(r.per_call_ms):.1f}"),
    ("  median ms/image (p90)", _latency),
    (f"  {BATCH} images per call: img/s", lambda r: f"{r.batch_images / r.batch_seconds:.1f}"),
]


def render(runs: dict[str, Run]) -> str:
    return markdown_table(["step", *runs], [[label, *(cell(run) for run in runs.values())] for label, cell in ROWS])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="trainings per column, from an empty cache each")
    parser.add_argument(
        "--predict", type=int, default=100, help=f"images predicted 1 per call, others {BATCH} per call"
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    require_shared()
    with tempfile.TemporaryDirectory(prefix="sightline-bench-") as tmp:
        root = Path(tmp)
        os.environ["SIGHTLINE_HOME"] = str(root / "home")  # nothing lands in the user's ~/.sightline
        os.environ.pop("SIGHTLINE_CACHE", None)
        items = balanced(folder_items(CLOTHING, splits={"train"}), args.images)
        test_images = [p for row in zip_longest(*class_folders("test").values()) for p in row if p is not None]
        k = args.predict
        images = PredictionImages(
            warm_up=test_images[2 * k].read_bytes(),
            singles=[p.read_bytes() for p in test_images[:k]],
            batches=[[p.read_bytes() for p in test_images[i : i + BATCH]] for i in range(k, 2 * k, BATCH)],
        )
        for path, _ in items:  # every run reads the photos from the page cache, not the first one from disk
            path.read_bytes()
        embed_images(create_backbone(BACKBONE), [items[0][0]])  # the ONNX session is created once, before timing
        load_before = os.getloadavg()
        with ExitStack() as open_setups:
            setups: dict[str, Setup] = {"SQLite": open_setups.enter_context(sqlite_project(root, items))}
            if not args.no_postgres:
                setups["PostgreSQL"] = open_setups.enter_context(postgres_project(root, items))
            setups["baseline: `Classifier.fit`, disk cache"] = BaselineSetup(root, items)
            for index in range(args.rounds):
                order = list(setups.values())
                for setup in order if index % 2 == 0 else reversed(order):
                    setup.train_round(index)
            time_predictions(setups, images)
        load_after = os.getloadavg()
        runs = {name: setup.run for name, setup in setups.items()}
    counts = {tag: 0 for tag in class_folders("train")}
    for _, tags in items:
        counts[tags[0]] += 1
    body = (
        f"Backbone: `{BACKBONE}`. {len(items)} photos of clothing-dataset-small `train/` "
        f"({', '.join(f'{t} {n}' for t, n in counts.items())}); predictions on `test/` photos "
        f"({len(images.singles)} one per call, stored for review as the API does; then "
        f"{sum(map(len, images.batches))} others, {BATCH} per call).\n\n"
        f"Trainings: median of {args.rounds} rounds, each from an empty embedding cache, the columns' order "
        "reversed every round. Predictions: timed interleaved across the columns.\n\n"
        + render(runs)
        + "\n\nThe first training embeds every image (reading it from the blob store for a project); retraining "
        "finds every embedding in the cache (the `embeddings` table for a project, a folder for the baseline) "
        "and only learns. Phases are the report's `timings`; embedding is the rest of the job's own clock "
        "(job - phases), which for a project also covers reading blobs and saving the model. "
        f"Load average (1 min) when the runs started and ended: {load_before[0]:.1f}, {load_after[0]:.1f} "
        "(2 cores shared with other work).\n"
    )
    write_result("projects", f"Projects: import, training, retraining and prediction of {len(items):,} images", body)


if __name__ == "__main__":
    main()
