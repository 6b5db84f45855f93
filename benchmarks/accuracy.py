"""Few-shot accuracy and calibration of custom classifiers on real photos, against baselines in the same run.

Single-label: clothing-dataset-small, 5/10/15/30 training images per class (5 draws from a fixed pool
of 60 photos per class taken from train/; each draw shuffles the pool and takes the first k, so larger
draws contain the smaller; the rest of the pool is that draw's untagged images), scored on all of test/.
Multi-label: 2x2 mosaics of clothing photos whose tags are the classes shown,
15/30/45/90 training mosaics (about 5/10/15/30 positives per tag), scored on 300 test mosaics, on the
tags that have at least 5 positives in the draw (Sightline refuses fewer: every method gets the same tags).
Every image and every view of it is embedded once (MobileNetV1 from ../shared/models, through the
disk embedding cache, views under their own key) and reused by all draws and methods.

Methods on the same L2-normalised embeddings:
* `logistic regression, C tuned by CV`: scikit-learn, C from {0.01 .. 100} by stratified k-fold CV on
  accuracy (multi-label: one per tag, on average precision). What a careful user writes in ten lines.
* `nearest centroid` (single-label).
* `sightline (default: no views)`: `train_model` on the images alone (what `Classifier` does by default).
* `sightline + training views`: also trained on each image's mirror and 80% centre crop.
* `sightline + training and test-time views`: as above, predicting on the mean of the image and its mirror.
* `+ pseudo-labels` (single-label, 5 shots): the model with training views, retrained with the
  untagged pool images it is at least 90% sure of (semi-supervised self-training), to see whether it pays.
First (they are short) training time on 2,000 x 1,024 x 10 (cached embeddings) and batch-1 prediction
latency with test-time views on and off, measured in the same process, alternated.

    python benchmarks/accuracy.py [--seeds 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from _common import (
    EMBEDDING_MODEL,
    Timer,
    class_folders,
    make_mosaics,
    markdown_table,
    require_shared,
    write_result,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, average_precision_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import NearestCentroid

from sightline import Classifier
from sightline.backbones import create_backbone, default_embedding_cache, embed_images, l2_normalize
from sightline.backbones.views import TEST_TIME_VIEW, TRAINING_VIEWS, ViewBackbone, mean_of_views
from sightline.learn import expected_calibration_error, train_model

C_GRID = [0.01, 0.1, 1.0, 10.0, 100.0]
SHOTS = (5, 10, 15, 30)
MOSAICS = (15, 30, 45, 90)
PSEUDO_LABEL_SHOTS = (5,)
PSEUDO_LABEL_CONFIDENCE = 0.9
POOL_PER_CLASS = 60
MIN_POSITIVES = 5
LR = "logistic regression, C tuned by CV"
ALL_VIEWS = ("image", *TRAINING_VIEWS)


def ece_noise_floor(probs: np.ndarray, *, multilabel: bool, draws: int = 50) -> float:
    """The ECE a PERFECTLY calibrated model with these confidences would show on this many images
    (outcomes drawn from the confidences themselves): how much of a measured ECE is sampling noise."""
    rng = np.random.default_rng(0)
    values = []
    for _ in range(draws):
        if multilabel:
            outcome = (rng.random(probs.shape) < probs).astype(int)
        else:
            top = probs.argmax(1)
            correct = rng.random(len(probs)) < probs.max(1)
            outcome = np.where(correct, top, (top + 1) % probs.shape[1])
        values.append(expected_calibration_error(outcome, probs, multilabel=multilabel))
    return float(np.mean(values))


class Embeddings:
    """Unit-length embeddings of images and their views, through the disk cache (computed once)."""

    def __init__(self, backbone: str):
        self.backbone = create_backbone(backbone)
        self.cache = default_embedding_cache()

    def __call__(self, sources: list, views: tuple[str, ...] = ALL_VIEWS) -> dict[str, np.ndarray]:
        out = {}
        for view in views:
            model = self.backbone if view == "image" else ViewBackbone(self.backbone, view)
            embedded = embed_images(model, sources, cache=self.cache)
            assert not embedded.failures, embedded.failures[:3]
            out[view] = l2_normalize(embedded.vectors)
        return out


def _tuned_logreg(X: np.ndarray, y: np.ndarray, *, scoring: str, seed: int) -> LogisticRegression:
    """LogisticRegression with C chosen by stratified k-fold CV (k = min(5, smallest class))."""
    folds = int(min(5, np.bincount(y).min()))
    if folds < 2:
        return LogisticRegression(max_iter=3000).fit(X, y)
    search = GridSearchCV(
        LogisticRegression(max_iter=3000),
        {"C": C_GRID},
        scoring=scoring,
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
    )
    return search.fit(X, y).best_estimator_


def _sightline_variants(train: dict[str, np.ndarray], test: dict[str, np.ndarray], fit: Callable) -> dict:
    """Probabilities on the test images of the three Sightline variants, from views of the training images."""
    views = [train[v] for v in TRAINING_VIEWS]
    test_time = mean_of_views(test["image"], [test[TEST_TIME_VIEW]])
    return {
        "sightline (default: no views)": fit(train["image"]).predict_proba(test["image"]),
        "sightline + training views": fit(train["image"], views=views).predict_proba(test["image"]),
        "sightline + training and test-time views": fit(
            train["image"], views=views, test_time_view=train[TEST_TIME_VIEW]
        ).predict_proba(test_time),
    }


def _mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def _rows(results: dict, label: object, metric: str, baseline: str) -> list[tuple]:
    base = np.array(results[baseline][metric])
    rows = []
    for name, entry in results.items():
        delta = np.array(entry[metric]) - base[: len(entry[metric])]
        ece = _mean_std(entry["ece"]) if "ece" in entry else "n/a"
        floor = _mean_std(entry["floor"]) if "floor" in entry else "n/a"
        beyond = f"{np.mean(np.array(entry['ece']) - np.array(entry['floor'])):+.3f}" if "ece" in entry else "n/a"
        rows.append((label, name, _mean_std(entry[metric]), f"{100 * delta.mean():+.1f}", ece, floor, beyond))
    return rows


def _record(results: dict, name: str, metric: str, value: float, probs=None, truth=None, multilabel=False) -> None:
    entry = results.setdefault(name, {})
    entry.setdefault(metric, []).append(value)
    if probs is not None:
        entry.setdefault("ece", []).append(expected_calibration_error(truth, probs, multilabel=multilabel))
        entry.setdefault("floor", []).append(ece_noise_floor(probs, multilabel=multilabel))


@dataclass(frozen=True)
class ClothingPool:
    """A fixed pool of POOL_PER_CLASS training photos per class and every test/ photo, embedded once.

    Each draw shuffles the pool by its seed and takes the first `shots` of each class (the rest are the
    draw's untagged images for self-training); other benchmarks reuse the same draws."""

    classes: list[str]
    X_pool: dict[str, np.ndarray]  # view -> (len(classes) * POOL_PER_CLASS, d), class by class
    X_test: dict[str, np.ndarray]
    y_test: np.ndarray

    def draw(self, shots: int, seed: int) -> tuple[list[int], np.ndarray]:
        """Pool rows of one draw, and their class indices."""
        order = np.random.default_rng(seed).permutation(POOL_PER_CLASS)
        picked = [k * POOL_PER_CLASS + int(i) for k in range(len(self.classes)) for i in order[:shots]]
        return picked, np.repeat(np.arange(len(self.classes)), shots)


def clothing_pool(
    embed: Embeddings, pool_views: tuple[str, ...] = ALL_VIEWS, test_views: tuple[str, ...] = ("image", TEST_TIME_VIEW)
) -> ClothingPool:
    train, test = class_folders("train"), class_folders("test")
    classes = sorted(train)
    chosen = np.random.default_rng(12345)
    pool = {c: [str(train[c][i]) for i in chosen.permutation(len(train[c]))[:POOL_PER_CLASS]] for c in classes}
    X_pool = embed([p for c in classes for p in pool[c]], pool_views)
    X_test = embed([str(p) for c in classes for p in test[c]], test_views)
    y_test = np.array([classes.index(c) for c in classes for _ in test[c]])
    return ClothingPool(classes, X_pool, X_test, y_test)


def single_label(embed: Embeddings, seeds: int, shots_list=SHOTS, on_row=None) -> str:
    data = clothing_pool(embed)
    classes, X_pool, X_test, y_test = data.classes, data.X_pool, data.X_test, data.y_test
    rows = []
    headers = ["shots", "method", "accuracy", "vs tuned LR (points)", "ECE (test)", "ECE floor", "ECE - floor"]
    for shots in shots_list:
        results: dict = {}
        for seed in range(seeds):
            picked, y = data.draw(shots, seed)
            X = {v: X_pool[v][picked] for v in X_pool}
            lr = _tuned_logreg(X["image"], y, scoring="accuracy", seed=seed).predict_proba(X_test["image"])
            _record(results, LR, "accuracy", accuracy_score(y_test, lr.argmax(1)), lr, y_test)
            centroid = NearestCentroid().fit(X["image"], y).predict(X_test["image"])
            _record(results, "nearest centroid", "accuracy", accuracy_score(y_test, centroid))

            def fit(images, y=y, **views):
                return train_model(images, y, classes, multilabel=False, random_state=seed, **views)  # noqa: B023

            for name, p in _sightline_variants(X, X_test, fit).items():
                _record(results, name, "accuracy", accuracy_score(y_test, p.argmax(1)), p, y_test)
            if shots in PSEUDO_LABEL_SHOTS:
                p = _self_trained(X_pool, set(picked), X, y, fit).predict_proba(X_test["image"])
                _record(
                    results, "sightline + pseudo-labels", "accuracy", accuracy_score(y_test, p.argmax(1)), p, y_test
                )
        rows += _rows(results, shots, "accuracy", LR)
        if on_row:
            on_row(markdown_table(headers, rows))
    return markdown_table(headers, rows)


def _self_trained(X_pool: dict, picked: set, X: dict, y: np.ndarray, fit: Callable):
    """The training-views model, retrained with the untagged images it labels with >= 90% confidence."""
    views = [X[v] for v in TRAINING_VIEWS]
    model = fit(X["image"], views=views)
    untagged = np.array(sorted(set(range(len(X_pool["image"]))) - picked))
    probs = model.predict_proba(X_pool["image"][untagged])
    sure = probs.max(1) >= PSEUDO_LABEL_CONFIDENCE
    chosen = untagged[sure]
    y_all = np.concatenate([y, probs.argmax(1)[sure]])
    stacked = {v: np.vstack([X[v], X_pool[v][chosen]]) for v in X}
    return fit(stacked["image"], y=y_all, views=[stacked[v] for v in TRAINING_VIEWS])


def _tuned_per_tag(X: np.ndarray, Y: np.ndarray, X_test: np.ndarray, seed: int) -> np.ndarray:
    columns = []
    for j in range(Y.shape[1]):
        if Y[:, j].min() == Y[:, j].max():
            columns.append(np.full(len(X_test), Y[0, j], dtype=float))
            continue
        columns.append(_tuned_logreg(X, Y[:, j], scoring="average_precision", seed=seed).predict_proba(X_test)[:, 1])
    return np.column_stack(columns)


def multi_label(
    embed: Embeddings, seeds: int, sizes=MOSAICS, pool_size: int = 300, n_test: int = 300, on_row=None
) -> str:
    pool_images, pool_labels = make_mosaics("train", pool_size, seed=1)
    test_images, test_labels = make_mosaics("test", n_test, seed=2)
    classes = sorted({c for labels in pool_labels for c in labels})
    X_pool = embed(pool_images)
    X_test = embed(test_images, ("image", TEST_TIME_VIEW))
    Y_pool = np.array([[c in labels for c in classes] for labels in pool_labels], dtype=int)
    Y_test = np.array([[c in labels for c in classes] for labels in test_labels], dtype=int)
    orders = [np.random.default_rng(seed).permutation(pool_size) for seed in range(seeds)]
    rows = []
    headers = ["training mosaics", "method", "mAP", "vs tuned LR (points)", "ECE (test)", "ECE floor", "ECE - floor"]
    for n in sizes:
        results: dict = {}
        for seed in range(seeds):
            picked = orders[seed][:n]
            # Sightline refuses a tag with fewer than 5 images: every method gets the tags that have 5
            cols = np.flatnonzero(Y_pool[picked].sum(axis=0) >= MIN_POSITIVES)
            Y, truth = Y_pool[picked][:, cols], Y_test[:, cols]
            X = {v: X_pool[v][picked] for v in X_pool}
            lr = _tuned_per_tag(X["image"], Y, X_test["image"], seed)
            _record(results, "logistic regression per tag, C tuned by CV", "map",
                    average_precision_score(truth, lr, average="macro"), lr, truth, True)  # fmt: skip
            tags = [classes[j] for j in cols]

            def fit(images, Y=Y, tags=tags, **views):
                return train_model(images, Y, tags, multilabel=True, random_state=seed, **views)  # noqa: B023

            for name, p in _sightline_variants(X, X_test, fit).items():
                _record(results, name, "map", average_precision_score(truth, p, average="macro"), p, truth, True)
        rows += _rows(results, f"{n} (~{n * 0.34:.0f}/tag)", "map", "logistic regression per tag, C tuned by CV")
        if on_row:
            on_row(markdown_table(headers, rows))
    return markdown_table(headers, rows)


def training_speed() -> str:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 1024))
    y = np.repeat(np.arange(10), 200)

    def sample() -> np.ndarray:
        X = centres[y] + 3.0 * rng.normal(size=(2000, 1024))
        return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)

    X, views = sample(), [sample(), sample()]
    tags = [f"t{k}" for k in range(10)]
    load = os.getloadavg()[0]
    with Timer() as plain:
        LogisticRegression(max_iter=3000).fit(X, y)
    with Timer() as ours:
        train_model(X, y, tags, multilabel=False)
    with Timer() as with_views:
        train_model(X, y, tags, multilabel=False, views=views, test_time_view=views[0])
    return (
        markdown_table(
            ["fit on 2,000 x 1,024, 10 tags", "seconds"],
            [
                ("one LogisticRegression (C=1, no CV)", plain.seconds),
                ("sightline train_model, no views (CV over C, calibration, report)", ours.seconds),
                ("sightline train_model + 2 training views + test-time view (6,000 rows)", with_views.seconds),
            ],
        )
        + f"\n\nLoad average (1 min) when it started: {load:.1f} on {os.cpu_count()} cores (shared machine)."
    )


def prediction_latency(backbone: str, repeats: int = 40) -> str:
    """Batch-1 latency of `Classifier.predict` on a photo path (decode + embed + decide), with test-time
    views off and on, alternated image by image so that both see the same load."""
    train, test = class_folders("train"), class_folders("test")
    classes = sorted(train)
    images = [str(p) for c in classes for p in train[c][:5]]
    labels = [c for c in classes for _ in range(5)]
    models = {}
    for on in (False, True):
        clf = Classifier(backbone, test_time_views=on, cache="disk").fit(images, labels)
        clf.cache = None  # predictions embed every photo, as a server does for new photos
        models[on] = clf
    photos = [str(p) for c in classes for p in test[c]][:repeats]
    times: dict[bool, list[float]] = {False: [], True: []}
    for clf in models.values():
        clf.predict(photos[:2])  # warm up
    for photo in photos:
        for on, clf in models.items():
            start = time.perf_counter()
            clf.predict([photo])
            times[on].append(time.perf_counter() - start)
    off, on = statistics.median(times[False]), statistics.median(times[True])
    return (
        markdown_table(
            ["batch-1 prediction (photo path)", "median ms", "p90 ms"],
            [
                ("test-time views off", f"{1000 * off:.1f}", f"{1000 * np.quantile(times[False], 0.9):.1f}"),
                (
                    "test-time views on (image + mirror)",
                    f"{1000 * on:.1f}",
                    f"{1000 * np.quantile(times[True], 0.9):.1f}",
                ),
                ("ratio on / off", f"{on / off:.2f}x", ""),
            ],
        )
        + f"\n\nLoad average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)."
    )


TARGETS = (
    "Targets (issue 13): accuracy >= tuned LR + 2 points at 5-15 shots, mAP >= tuned LR + 2 points, "
    "held-out ECE <= 0.05 beyond its sampling floor (ECE - floor), training 2,000 x 1,024 x 10 < 3 s, "
    "batch-1 latency at most 1.5x if test-time views are on by default."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--backbone", default=f"onnx:{EMBEDDING_MODEL}")
    parser.add_argument("--quick", action="store_true", help="5 and 15 shots, 2 draws: a smoke run")
    parser.add_argument("--shots", type=int, nargs="*", default=list(SHOTS), help="single-label shots per tag")
    parser.add_argument("--mosaics", type=int, nargs="*", default=list(MOSAICS), help="multi-label training sizes")
    parser.add_argument("--no-timing", action="store_true", help="leave out training time and latency")
    parser.add_argument("--out", default="accuracy", help="results file name (benchmarks/results/NAME.md)")
    args = parser.parse_args()
    require_shared()
    seeds = 2 if args.quick else args.seeds
    shots = (5, 15) if args.quick else tuple(args.shots)
    embed = Embeddings(args.backbone)
    title = "Few-shot accuracy and calibration (clothing-dataset-small)"
    sections = [f"Backbone: `{args.backbone}`. Started with load average {os.getloadavg()[0]:.1f}.\n\n{TARGETS}"]

    def save(extra: str = "") -> None:  # progressive: a run cut short still leaves what it measured
        write_result(args.out, title, "\n\n".join([*sections, extra]))

    started = time.perf_counter()
    # the short sections first: on a loaded machine the accuracy tables may take long
    if not args.no_timing:
        sections.append("## Training time from cached embeddings\n\n" + training_speed())
        save()
        sections.append("## Prediction latency at batch 1\n\n" + prediction_latency(args.backbone))
        save()
    head = f"## Single-label: clothing test/ (mean ± std over {seeds} draws)\n\n"
    if shots:
        sections.append(head + single_label(embed, seeds, shots, on_row=lambda t: save(head + t + "\n\n(running)")))
        save()
    head = f"## Multi-label: 2x2 mosaics, 300 test mosaics ({seeds} draws)\n\n"
    if args.mosaics:
        sections.append(
            head + multi_label(embed, seeds, tuple(args.mosaics), on_row=lambda t: save(head + t + "\n\n(running)"))
        )
    sections.append(f"Whole run: {time.perf_counter() - started:.0f} s.")
    save()


if __name__ == "__main__":
    main()
