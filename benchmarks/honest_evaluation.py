"""Does the accuracy Sightline shows hold on new images? Cross-validated accuracy (what the report
shows) against accuracy on new images of other items, before (plain stratified folds, as Sightline
did until issue 12) and after (group-aware folds: near-duplicates found in the embeddings).

Three data sets, each over several draws, MobileNetV1 embeddings (cached):
(a) clothing-dataset-small, 15 photos per tag from train/; new images: all of test/.
(b) several shots per item: 10 items per tag from train/, k shots of each (crop, rotation,
    lighting: `_datasets.shot`); new images: one shot of every test/ photo (other items).
(c) homogeneous: grey metal-like surfaces with 4 kinds of defect, every image alike
    (`_datasets.surface`); 40 per tag; new images: 100 new surfaces per tag.

Both models come from `train_model` on the same embeddings (what `Classifier.fit` runs), the
"before" one with `detect_near_duplicates=False`.

    python benchmarks/honest_evaluation.py [--draws 3] [--shots 3]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import EMBEDDING_MODEL, class_folders, markdown_table, require_shared, write_result
from _datasets import SURFACE_DEFECTS, several_shots, surfaces
from accuracy import ece_noise_floor

from sightline import Classifier
from sightline.backbones import l2_normalize
from sightline.learn import expected_calibration_error, train_model


class Embedder:
    def __init__(self, backbone: str):
        self.clf = Classifier(backbone)

    def __call__(self, images) -> np.ndarray:
        embedded = self.clf.embed(images)
        assert not embedded.failures
        return l2_normalize(embedded.vectors)


def _draw_clothing(embed, seed: int, per_tag: int):
    train, test = class_folders("train"), class_folders("test")
    classes = sorted(train)
    rng = np.random.default_rng(seed)
    picked = [(p, c) for c in classes for p in rng.choice(train[c], per_tag, replace=False)]
    X = embed([str(p) for p, _ in picked])
    y = np.array([classes.index(c) for _, c in picked])
    X_new = embed([str(p) for c in classes for p in test[c]])
    y_new = np.array([classes.index(c) for c in classes for _ in test[c]])
    return classes, X, y, X_new, y_new


def _draw_shots(embed, seed: int, items_per_tag: int, shots: int):
    train, test = class_folders("train"), class_folders("test")
    classes = sorted(train)
    rng = np.random.default_rng(seed)
    photos = [(p, c) for c in classes for p in rng.choice(train[c], items_per_tag, replace=False)]
    X = embed(several_shots([p for p, _ in photos], shots, seed=seed))
    y = np.repeat([classes.index(c) for _, c in photos], shots)
    new = [(p, c) for c in classes for p in test[c]]
    X_new = embed(several_shots([p for p, _ in new], 1, seed=1000 + seed))
    y_new = np.array([classes.index(c) for _, c in new])
    return classes, X, y, X_new, y_new


def _draw_surfaces(embed, seed: int, per_tag: int):
    images, labels = surfaces(per_tag, seed=seed)
    new_images, new_labels = surfaces(100, seed=1000 + seed)
    classes = list(SURFACE_DEFECTS)
    return (
        classes,
        embed(images),
        np.array([classes.index(c) for c in labels]),
        embed(new_images),
        np.array([classes.index(c) for c in new_labels]),
    )


def _evaluate(classes, X, y, X_new, y_new, seed: int, *, grouped: bool) -> dict:
    model = train_model(X, y, classes, multilabel=False, random_state=seed, detect_near_duplicates=grouped)
    probs = model.predict_proba(X_new)
    report = model.report
    return {
        "shown": report.accuracy,
        "shown_std": report.accuracy_std,
        "held_out": float(np.mean(probs.argmax(1) == y_new)),
        "groups": report.n_groups,
        "grouped": report.n_grouped_images,
        "ece": expected_calibration_error(y_new, probs, multilabel=False),
        "ece_floor": ece_noise_floor(probs, multilabel=False),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=3, help="draws of (b) and (c)")
    parser.add_argument(
        "--clothing-draws", type=int, default=10, help="draws of (a): its gap is mostly sampling noise, so more"
    )
    parser.add_argument("--shots", type=int, default=3)
    parser.add_argument("--backbone", default=f"onnx:{EMBEDDING_MODEL}")
    args = parser.parse_args()
    require_shared()
    embed = Embedder(args.backbone)
    sets = {
        "(a) clothing, 15 photos per tag": (args.clothing_draws, lambda s: _draw_clothing(embed, s, 15)),
        f"(b) 10 items x {args.shots} shots per tag": (args.draws, lambda s: _draw_shots(embed, s, 10, args.shots)),
        "(c) homogeneous surfaces, 40 per tag": (args.draws, lambda s: _draw_surfaces(embed, s, 40)),
    }
    rows, summary = [], []
    for name, (draws, draw) in sets.items():
        gaps = {"before": [], "after": []}
        for seed in range(draws):
            data = draw(seed)
            for label, grouped in (("before", False), ("after", True)):
                r = _evaluate(*data, seed, grouped=grouped)
                gaps[label].append(r["shown"] - r["held_out"])
                rows.append(
                    (
                        name,
                        seed,
                        label,
                        f"{len(data[1])} / {r['groups']}",
                        r["grouped"],
                        f"{r['shown']:.3f} ± {r['shown_std']:.3f}",
                        r["held_out"],
                        r["shown"] - r["held_out"],
                        f"{r['ece']:.3f} ({r['ece_floor']:.3f})",
                    )
                )
                print(rows[-1], flush=True)
        for label in ("before", "after"):
            gap = np.array(gaps[label])
            summary.append((name, label, len(gap), float(np.mean(np.abs(gap))), float(np.mean(gap)),
                            "yes" if np.mean(np.abs(gap)) <= 0.05 else "no"))  # fmt: skip
    headers = ["data set", "draw", "folds", "images / groups", "grouped images", "CV accuracy shown ± s.e.",
               "accuracy on new images", "shown - new", "ECE on new images (floor)"]  # fmt: skip
    body = (
        f"Backbone: `{args.backbone}`. 'before': plain stratified folds; 'after': group-aware folds "
        "(near-duplicates detected, see sightline/learn/crossval.py). ± s.e.: bootstrap over the groups.\n\n"
        "## Summary (target: mean |shown - new| <= 0.05 on every set, and (a) no worse than before)\n\n"
        + markdown_table(
            ["data set", "folds", "draws", "mean abs(shown - new)", "mean (shown - new)", "<= 0.05"], summary
        )
        + "\n\n## Every draw\n\n"
        + markdown_table(headers, rows)
        + "\n\nECE (floor): expected calibration error of the calibrated probabilities on the new images, and the"
        " ECE a perfectly calibrated model with the same confidences would show on that many images.\n"
    )
    write_result("honest_evaluation", "Honest evaluation: accuracy shown vs accuracy on new images", body)


if __name__ == "__main__":
    main()
