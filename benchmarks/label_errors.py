"""Finding mislabelled images: flip 10% of the labels of a clothing training set, rank the images by
confident learning on group-aware out-of-fold probabilities (`sightline.learn.label_errors`), and
measure how many of the top k (k = the number of flips) are flipped ones, and the AUROC of the
ranking. Baseline in the same run: a random ranking (precision at k = the flip rate, AUROC 0.5).

    python benchmarks/label_errors.py [--per-tag 50] [--draws 3] [--flip 0.1]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import EMBEDDING_MODEL, class_folders, markdown_table, require_shared, write_result
from sklearn.metrics import roc_auc_score

from sightline import Classifier
from sightline.backbones import l2_normalize
from sightline.learn import train_model
from sightline.learn.label_errors import rank_label_issues


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-tag", type=int, default=50)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--flip", type=float, default=0.1)
    parser.add_argument("--backbone", default=f"onnx:{EMBEDDING_MODEL}")
    args = parser.parse_args()
    require_shared()
    clf = Classifier(args.backbone)
    train = class_folders("train")
    classes = sorted(train)
    rows = []
    for seed in range(args.draws):
        rng = np.random.default_rng(seed)
        picked = [(p, c) for c in classes for p in rng.choice(train[c], args.per_tag, replace=False)]
        X = l2_normalize(clf.embed([str(p) for p, _ in picked]).vectors)
        y = np.array([classes.index(c) for _, c in picked])
        flipped = rng.choice(len(y), round(args.flip * len(y)), replace=False)
        noisy = y.copy()
        noisy[flipped] = (y[flipped] + rng.integers(1, len(classes), len(flipped))) % len(classes)
        model = train_model(X, noisy, classes, multilabel=False, random_state=seed)
        probs = np.array([image.probabilities for image in model.report.images])
        ranking = rank_label_issues(probs, noisy)
        is_flipped = np.zeros(len(y), dtype=bool)
        is_flipped[flipped] = True
        k = len(flipped)
        top = [r.index for r in ranking[:k]]
        score = np.empty(len(y))
        score[[r.index for r in ranking]] = -np.arange(len(ranking))  # earlier = more suspicious
        random_order = rng.permutation(len(y))
        rows.append(
            (
                seed,
                len(y),
                k,
                sum(r.flagged for r in ranking),
                float(is_flipped[top].mean()),
                float(roc_auc_score(is_flipped, score)),
                float(is_flipped[random_order[:k]].mean()),
                float(roc_auc_score(is_flipped, rng.random(len(y)))),
            )
        )
        print(rows[-1], flush=True)
    mean = ("mean", "", "", "", *(float(np.mean([r[i] for r in rows])) for i in range(4, 8)))
    headers = ["draw", "images", "flipped (k)", "flagged by CL", "precision at k", "AUROC",
               "random: precision at k", "random: AUROC"]  # fmt: skip
    body = (
        f"Backbone: `{args.backbone}`. {args.per_tag} clothing photos per tag from train/, {args.flip:.0%} of the "
        "labels flipped to another tag at random. Ranking: self-confidence on the cross-fitted calibrated "
        "out-of-fold probabilities of group-aware cross-validation; 'flagged': confident learning's estimate of how "
        "many labels are wrong. Target: precision at k >= 0.70.\n\n" + markdown_table(headers, [*rows, mean])
    )
    write_result("label_errors", "Label errors: finding flipped labels", body)


if __name__ == "__main__":
    main()
