"""Candidate ways to lift a linear head on frozen features at few shots, measured before any ships.

Clothing (MobileNetV1 features), 5 and 15 images per class, 3 draws, scored on all of test/. Rows:
* `sightline`: `train_model` as shipped (the baseline here).
* `+ test-time flip`: the prediction embeds the image and its mirror and averages them (2 forward passes).
* `mean-view training + flip`: training images embedded as the mean of image and mirror, same at test.
* `augmented x3`: each training image also as its mirror and a 80% centre crop (3 rows per image; the
  cross-validation then sees views of one image on both sides of a fold, so its report is optimistic).
* `augmented x3 + test-time flip`.
* `+ centroid`, `+ Tip-Adapter cache`: the head's logits plus (standardised) cosine to the class means,
  or plus a Tip-Adapter-style affinity exp(-5 (1 - cos)) to the training images summed per class.

    python benchmarks/accuracy_candidates.py
"""

from __future__ import annotations

import io

import numpy as np
from _common import EMBEDDING_MODEL, class_folders, markdown_table, require_shared, write_result
from PIL import Image
from sklearn.metrics import accuracy_score

from sightline import Classifier
from sightline.backbones import l2_normalize
from sightline.learn import train_model

DRAWS = 3


def _view(path, mode: str) -> bytes:
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    w, h = image.size
    if mode == "flip":
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    else:
        image = image.crop((w // 10, h // 10, w - w // 10, h - h // 10))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def main() -> None:
    require_shared()
    probe = Classifier(f"onnx:{EMBEDDING_MODEL}")
    train, test = class_folders("train"), class_folders("test")
    classes = sorted(train)
    test_paths = [p for c in classes for p in test[c]]
    y_test = np.array([classes.index(c) for c in classes for _ in test[c]])
    X_test = l2_normalize(probe.embed([str(p) for p in test_paths]).vectors)
    X_test_flip = l2_normalize(l2_normalize(probe.embed([_view(p, "flip") for p in test_paths]).vectors) + X_test)
    rows = []
    for shots in (5, 15):
        acc: dict[str, list[float]] = {}

        def score(name: str, predicted: np.ndarray) -> None:
            acc.setdefault(name, []).append(accuracy_score(y_test, predicted))  # noqa: B023

        for draw in range(DRAWS):
            rng = np.random.default_rng(draw)
            picked = [(p, c) for c in classes for p in rng.choice(train[c], shots, replace=False)]
            y = np.array([classes.index(c) for _, c in picked])
            X = l2_normalize(probe.embed([str(p) for p, _ in picked]).vectors)
            X_flip = l2_normalize(probe.embed([_view(p, "flip") for p, _ in picked]).vectors)
            X_crop = l2_normalize(probe.embed([_view(p, "crop") for p, _ in picked]).vectors)
            base = train_model(X, y, classes, multilabel=False, random_state=draw)
            logits = base.head.logits(X_test)
            score("sightline", logits.argmax(axis=1))
            score("+ test-time flip", base.head.logits(X_test_flip).argmax(axis=1))
            mean_view = train_model(l2_normalize(X + X_flip), y, classes, multilabel=False, random_state=draw)
            score("mean-view training + flip", mean_view.head.logits(X_test_flip).argmax(axis=1))
            augmented = train_model(np.vstack([X, X_flip, X_crop]), np.r_[y, y, y], classes, multilabel=False)
            score("augmented x3", augmented.head.logits(X_test).argmax(axis=1))
            score("augmented x3 + test-time flip", augmented.head.logits(X_test_flip).argmax(axis=1))
            means = l2_normalize(np.stack([X[y == k].mean(axis=0) for k in range(len(classes))]))
            centroid = X_test @ means.T
            cache = np.exp(-5 * (1 - X_test @ X.T)) @ np.eye(len(classes))[y]
            standard = logits / logits.std()
            score("+ centroid", (standard + centroid / centroid.std()).argmax(axis=1))
            score("+ Tip-Adapter cache", (standard + 0.5 * cache / cache.std()).argmax(axis=1))
        base = np.array(acc["sightline"])
        for name, values in acc.items():
            rows.append((shots, name, f"{np.mean(values):.3f}", f"{100 * (np.mean(values) - base.mean()):+.1f}"))
    body = markdown_table(["shots", "method", "accuracy", "vs sightline (points)"], rows)
    write_result("accuracy_candidates", f"Few-shot candidates on clothing ({DRAWS} draws)", body)


if __name__ == "__main__":
    main()
