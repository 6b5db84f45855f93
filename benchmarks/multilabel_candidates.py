"""Why the multi-label head ranked below a per-tag tuned logistic regression, measured on cached embeddings.

The mosaics, draws and tags of `accuracy.py` (2x2 mosaics of clothing photos, 15/30/45/90 training
mosaics, tags with at least 5 positives in the draw, 300 test mosaics, MobileNetV1 through the disk
embedding cache). Rows, all in one run:
* `logistic regression per tag, C tuned by CV`: the baseline of `accuracy.py`.
* `sightline, previous calibration`: `train_model` with the Platt map it shipped before: per tag
  sigmoid(a z + b), a linear slope bounded at 0 and pulled toward 1. `tags tied` counts the tags whose
  slope landed on 0 (every test image then gets the same probability of that tag).
* `sightline (shipped)`: the current `PlattScaler` (slopes exp(s) > 0, pooled across tags).
* `log-slopes per tag` / `one shared slope`: the same map with a weak (1) or overwhelming (1e6) pull
  of each tag's log-slope toward the shared one.
* `+ training and test-time views`: the shipped model trained on mirror and 80% crop, scored on the
  mean of image and mirror.
* `head logits, C = ...` (ranking only, no calibration, no CV): how much a better choice of C could
  give at most; `class_weight=None` against the shipped balanced weights.
* `constant: training prevalence`: each tag's training frequency for every test image, the ECE that
  the prevalence shift of the tag selection alone causes (a tag kept for having >= 5 positives among
  15 mosaics is more frequent in training than in the test set).

    OPENBLAS_NUM_THREADS=1 python benchmarks/multilabel_candidates.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from _common import EMBEDDING_MODEL, make_mosaics, markdown_table, require_shared, write_result
from accuracy import MIN_POSITIVES, MOSAICS, TEST_TIME_VIEW, TRAINING_VIEWS, Embeddings, _tuned_per_tag, ece_noise_floor
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.metrics import average_precision_score

import sightline.learn.crossval as crossval
import sightline.learn.training as training
from sightline.backbones.views import mean_of_views
from sightline.learn import PlattScaler, expected_calibration_error, train_model
from sightline.learn.calibration import TemperatureScaler
from sightline.learn.heads import LinearHead

LR = "logistic regression per tag, C tuned by CV"


class PreviousPlatt(PlattScaler):
    """The Multilabel calibration shipped before: per tag sigmoid(a z + b), 0 <= a, ridge toward (1, 0)."""

    def fit(self, scores: np.ndarray, Y: np.ndarray) -> PreviousPlatt:
        scores, Y = np.asarray(scores, dtype=np.float64), np.asarray(Y, dtype=np.float64)
        k = scores.shape[1]

        def objective(theta):
            slope, offset = theta[:k], theta[k:]
            z = scores * slope + offset
            loss = -np.sum(Y * log_expit(z) + (1.0 - Y) * log_expit(-z))
            loss += 0.5 * self.ridge * np.sum((slope - 1.0) ** 2 + offset**2)
            residual = expit(z) - Y
            grad_slope = np.sum(residual * scores, axis=0) + self.ridge * (slope - 1.0)
            return loss, np.concatenate([grad_slope, residual.sum(axis=0) + self.ridge * offset])

        bounds = [(0.0, None)] * k + [(None, None)] * k
        result = minimize(objective, np.r_[np.ones(k), np.zeros(k)], jac=True, method="L-BFGS-B", bounds=bounds)
        self.slope_, self.offset_ = result.x[:k].copy(), result.x[k:].copy()
        self.n_samples_ = len(scores)
        return self


def use_calibrator(factory) -> None:
    """Make `train_model` (its C search and its calibration) use `factory()` for Multilabel."""

    def make(*, multilabel: bool):
        return factory() if multilabel else TemperatureScaler()

    crossval.make_calibrator = make
    training.make_calibrator = make


CALIBRATORS = {
    "sightline, previous calibration": PreviousPlatt,
    "sightline (shipped)": PlattScaler,
    "sightline, log-slopes per tag (tag_ridge 1)": lambda: PlattScaler(tag_ridge=1.0),
    "sightline, one shared slope (tag_ridge 1e6)": lambda: PlattScaler(tag_ridge=1e6),
}


def _recorder(results: dict):
    """record(name, truth, scores, probabilities, tied): mAP, and ECE with its floor for probabilities."""

    def record(name, truth, scores, probabilities=True, tied=None) -> None:
        entry = results.setdefault(name, {})
        entry.setdefault("map", []).append(average_precision_score(truth, scores, average="macro"))
        if probabilities:
            entry.setdefault("ece", []).append(expected_calibration_error(truth, scores, multilabel=True))
            entry.setdefault("floor", []).append(ece_noise_floor(scores, multilabel=True))
        if tied is not None:
            entry.setdefault("tied", []).append(tied)

    return record


def _row(n: int, name: str, entry: dict, base: float) -> tuple:
    calibrated = "ece" in entry
    ece, floor = np.array(entry.get("ece", [0.0])), np.array(entry.get("floor", [0.0]))
    return (
        f"{n} (~{n * 0.34:.0f}/tag)",
        name,
        f"{np.mean(entry['map']):.3f} ± {np.std(entry['map']):.3f}",
        f"{100 * (np.mean(entry['map']) - base):+.1f}",
        f"{ece.mean():.3f}" if calibrated else "n/a",
        f"{floor.mean():.3f}" if calibrated else "n/a",
        f"{(ece - floor).mean():+.3f}" if calibrated else "n/a",
        f"{np.mean(entry['tied']):.1f}" if "tied" in entry else "",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    require_shared()
    load = os.getloadavg()[0]
    embed = Embeddings(f"onnx:{EMBEDDING_MODEL}")
    pool_images, pool_labels = make_mosaics("train", 300, seed=1)
    test_images, test_labels = make_mosaics("test", 300, seed=2)
    classes = sorted({c for labels in pool_labels for c in labels})
    X_pool, X_test = embed(pool_images), embed(test_images, ("image", TEST_TIME_VIEW))
    Y_pool = np.array([[c in labels for c in classes] for labels in pool_labels], dtype=int)
    Y_test = np.array([[c in labels for c in classes] for labels in test_labels], dtype=int)
    test_time = mean_of_views(X_test["image"], [X_test[TEST_TIME_VIEW]])
    rows = []
    for n in MOSAICS:
        results: dict[str, dict[str, list[float]]] = {}
        record = _recorder(results)

        for seed in range(args.seeds):
            picked = np.random.default_rng(seed).permutation(len(Y_pool))[:n]
            cols = np.flatnonzero(Y_pool[picked].sum(axis=0) >= MIN_POSITIVES)
            Y, truth = Y_pool[picked][:, cols], Y_test[:, cols]
            X = {v: X_pool[v][picked] for v in X_pool}
            tags = [classes[j] for j in cols]
            record(LR, truth, _tuned_per_tag(X["image"], Y, X_test["image"], seed))
            for name, factory in CALIBRATORS.items():
                use_calibrator(factory)
                model = train_model(X["image"], Y, tags, multilabel=True, random_state=seed)
                tied = int((model.calibrator.slope_ <= 0).sum())
                record(name, truth, model.predict_proba(X_test["image"]), tied=tied)
                if name == "sightline (shipped)":
                    raw = model.head.logits(X_test["image"])
                    record("sightline (shipped): its head's raw logits", truth, raw, False)
                    views = [X[v] for v in TRAINING_VIEWS]
                    model = train_model(X["image"], Y, tags, multilabel=True, random_state=seed, views=views,
                                        test_time_view=X[TEST_TIME_VIEW])  # fmt: skip
                    record("sightline (shipped) + training and test-time views", truth, model.predict_proba(test_time))
            use_calibrator(PlattScaler)
            for C in (1.0, 10.0, 100.0, 1000.0):
                head = LinearHead(multilabel=True, C=C).fit(X["image"], Y)
                record(f"head logits, C = {C:g} fixed (no CV)", truth, head.logits(X_test["image"]), False)
            head = LinearHead(multilabel=True, C=100.0, class_weight=None).fit(X["image"], Y)
            record("head logits, C = 100, class_weight=None", truth, head.logits(X_test["image"]), False)
            record("constant: training prevalence", truth, np.broadcast_to(Y.mean(axis=0), truth.shape))
        base = np.array(results[LR]["map"])
        rows += [_row(n, name, entry, base.mean()) for name, entry in results.items()]
        print(markdown_table(["mosaics", "method", "mAP", "vs LR", "ECE", "floor", "ECE - floor", "tags tied"], rows))
    headers = ["training mosaics", "method", "mAP (test)", "vs tuned LR (points)", "ECE (test)", "ECE floor",
               "ECE - floor", "tags tied per model"]  # fmt: skip
    body = (
        f"{args.seeds} draws per size (those of `accuracy.py`), 300 test mosaics. Load average (1 min) at the start: "
        f"{load:.1f} on {os.cpu_count()} cores (shared machine), BLAS on one thread.\n\n"
        + markdown_table(headers, rows)
    )
    write_result("multilabel_candidates", "Multi-label head candidates on clothing mosaics", body)


if __name__ == "__main__":
    main()
