"""Do classic few-shot feature transforms lift the head on frozen features? (issue 13: measured, not shipped)

Candidates from the few-shot literature, applied to the L2-normalised MobileNetV1 embeddings before
the head (training and test alike), each fitted by Sightline's `train_model` and by the tuned
`LogisticRegression` baseline on the same transformed features:
* `centred`: minus the training images' mean embedding, then L2-normalised (SimpleShot's CL2N);
* `sqrt` / `pow 0.7`: the element-wise power of the (non-negative, post-ReLU) features, then
  L2-normalised (Tukey's ladder, as in PT-MAP); `+ centred`: then centred as above.
Same pool, draws and test images as `benchmarks/accuracy.py` (single-label clothing, 5 draws). Every
row's gain is against tuned LR on the untransformed features, the baseline of `accuracy.md`.

    python benchmarks/feature_transforms.py [--seeds 5]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import EMBEDDING_MODEL, markdown_table, require_shared, write_result
from accuracy import SHOTS, Embeddings, _tuned_logreg, clothing_pool
from sklearn.metrics import accuracy_score

from sightline.backbones import l2_normalize
from sightline.learn import train_model

TRANSFORMS = {  # name: (power, centred)
    "none": (1.0, False),
    "centred": (1.0, True),
    "sqrt": (0.5, False),
    "sqrt + centred": (0.5, True),
    "pow 0.7 + centred": (0.7, True),
}


def transformed(X: np.ndarray, power: float, mean: np.ndarray | None) -> np.ndarray:
    Z = l2_normalize(np.power(np.clip(X, 0.0, None), power)) if power != 1.0 else X
    return Z if mean is None else l2_normalize(Z - mean)


def main() -> None:
    require_shared()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    seeds = parser.parse_args().seeds
    data = clothing_pool(Embeddings(f"onnx:{EMBEDDING_MODEL}"), ("image",), ("image",))
    classes, X_pool, X_test, y_test = data.classes, data.X_pool["image"], data.X_test["image"], data.y_test
    rows: list[list[object]] = []
    for shots in SHOTS:
        results: dict[str, list[float]] = {}
        for seed in range(seeds):
            picked, y = data.draw(shots, seed)
            for name, (power, centred) in TRANSFORMS.items():
                mean = transformed(X_pool[picked], power, None).mean(axis=0) if centred else None
                Z, Z_test = transformed(X_pool[picked], power, mean), transformed(X_test, power, mean)
                head = train_model(Z, y, classes, multilabel=False, random_state=seed).head
                predicted = head.logits(Z_test).argmax(1)
                results.setdefault(f"sightline, {name}", []).append(accuracy_score(y_test, predicted))
                lr = _tuned_logreg(Z, y, scoring="accuracy", seed=seed)
                results.setdefault(f"tuned LR, {name}", []).append(accuracy_score(y_test, lr.predict(Z_test)))
        baseline = float(np.mean(results["tuned LR, none"]))
        for name, values in results.items():
            gain = (np.mean(values) - baseline) * 100
            rows.append([shots, name, f"{np.mean(values):.3f} ± {np.std(values):.3f}", f"{gain:+.1f}"])
        print(f"{shots} shots: done", flush=True)
    body = (
        f"Clothing test/ ({len(y_test)} photos), MobileNetV1 features, {seeds} draws (mean ± std).\n\n"
        + markdown_table(["shots", "method, features", "accuracy", "vs tuned LR, none (points)"], rows)
    )
    write_result("feature_transforms", "Few-shot feature transforms before the head", body)


if __name__ == "__main__":
    main()
