"""Zero-shot prior vs plain probe, from 1 to 50 images per tag: the prior must help few-shot and fade.

With an image-text backbone the prior is the tag names' text embeddings. No such weights can be
downloaded on the machines this runs on, so the prior here is a STAND-IN with the same role: class
prototypes (mean embeddings) computed from the validation split, which like text embeddings are
noisy class directions learned without the training images; its scale is fitted on the validation
split, as CLIP learns its logit scale. With real weights, run Classifier(backbone="hf:...") instead.

Curves on clothing-dataset-small test/, MobileNetV1 embeddings, mean of 3 draws per point:
  zero-shot   argmax of scale * cos(image, prototype): the prior alone
  plain probe the product's training (train_model: C chosen by cross-validation) without prior
  with prior  the same with the prior
Below 5 images per tag (the product's minimum, too few to cross-validate) both heads use LinearHead
with a fixed C, to show the mechanics.

    python benchmarks/prior_curve.py
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import EMBEDDING_MODEL, RESULTS, class_folders, markdown_table, require_shared, write_result
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from sightline import Classifier
from sightline.backbones import l2_normalize
from sightline.learn import LinearHead, train_model

SHOTS = (1, 2, 3, 5, 10, 20, 50)
MIN_IMAGES = 5  # train_model's minimum per tag


def _embed(clf: Classifier, split: str, classes: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    folders = class_folders(split)
    per_class = {c: l2_normalize(clf.embed([str(p) for p in folders[c]]).vectors) for c in classes}
    X = np.concatenate([per_class[c] for c in classes])
    y = np.concatenate([np.full(len(per_class[c]), i) for i, c in enumerate(classes)])
    return per_class, X, y


def _prototype_prior(X_val: np.ndarray, y_val: np.ndarray, k: int) -> np.ndarray:
    prototypes = l2_normalize(np.stack([X_val[y_val == i].mean(axis=0) for i in range(k)]))
    cos = X_val @ prototypes.T

    def nll(log_scale: float) -> float:
        return -log_softmax(np.exp(log_scale) * cos, axis=1)[np.arange(len(y_val)), y_val].mean()

    scale = float(np.exp(minimize_scalar(nll, bounds=(-2, 7), method="bounded").x))
    return prototypes * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--C", type=float, default=0.1, help="fixed C for both heads below 5 images per tag")
    args = parser.parse_args()
    require_shared()
    clf = Classifier(f"onnx:{EMBEDDING_MODEL}")
    classes = sorted(class_folders("train"))
    train, _, _ = _embed(clf, "train", classes)
    _, X_val, y_val = _embed(clf, "validation", classes)
    _, X_test, y_test = _embed(clf, "test", classes)
    prior = _prototype_prior(X_val, y_val, len(classes))
    zero_shot = float(((X_test @ prior.T).argmax(1) == y_test).mean())
    rows, curve = [], {"plain probe": [], "with prior": []}
    for shots in SHOTS:
        scores = {"plain probe": [], "with prior": []}
        for draw in range(args.draws):
            rng = np.random.default_rng(draw)
            picks = [rng.choice(len(train[c]), size=shots, replace=False) for c in classes]
            X = np.concatenate([train[c][idx] for c, idx in zip(classes, picks, strict=True)])
            y = np.repeat(np.arange(len(classes)), shots)
            for name, weights in (("plain probe", None), ("with prior", prior)):
                if shots >= MIN_IMAGES:
                    model = train_model(X, y, classes, multilabel=False, prior_weights=weights, random_state=draw)
                    predicted = model.predict_proba(X_test).argmax(1)
                else:
                    predicted = LinearHead(C=args.C, prior_weights=weights).fit(X, y).predict(X_test)
                scores[name].append(float((predicted == y_test).mean()))
        for name in curve:
            curve[name].append(np.mean(scores[name]))
        rows.append((shots, zero_shot, curve["plain probe"][-1], curve["with prior"][-1]))
    _plot(curve, zero_shot)
    body = (
        "Prior: class prototypes from validation/ (a stand-in for text embeddings; see the script's docstring).\n"
        f"From {MIN_IMAGES} images per tag: the product's training (C chosen by cross-validation); below that,\n"
        f"fixed C = {args.C} for both heads. Accuracy on test/, mean of {args.draws} draws.\n\n"
        + markdown_table(["images per tag", "zero-shot (prior only)", "plain probe", "with prior"], rows)
        + "\n\n![curve](prior_curve.png)\n"
    )
    write_result("prior_curve", "Zero-shot prior: few-shot help that fades with data", body)


def _plot(curve: dict[str, list[float]], zero_shot: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in curve.items():
        ax.plot(SHOTS, values, marker="o", label=name)
    ax.axhline(zero_shot, color="grey", linestyle="--", label="zero-shot (prior only)")
    ax.set_xscale("log")
    ax.set_xticks(SHOTS, [str(s) for s in SHOTS])
    ax.set_xlabel("training images per tag")
    ax.set_ylabel("test accuracy")
    ax.set_title("Zero-shot prior vs plain probe (clothing, MobileNetV1)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "prior_curve.png", dpi=100)


if __name__ == "__main__":
    main()
