"""Tagging quality of the pre-built tagger (mAP) on labelled multi-label photos, with baselines in the same run.

Data: 2x2 mosaics of clothing-dataset-small photos (`make_mosaics`); the tags of a mosaic are the
clothing classes it shows (1 to 4 of 10). Scored on mosaics of test/ photos.

Tagger: by default the ImageNet ONNX classifier (`../shared/models/mobilenet_v2_imagenet.onnx`), a
fixed-vocabulary tagger, with a custom vocabulary that maps each clothing class to the ImageNet labels
that mean it (`CLOTHING_LABELS`, written from the label list and checked against the labels the
network gives train/ photos, never test/ ones; ImageNet has no label for a plain shirt, so `shirt`
leans on suit and ties). A tag's confidence is the summed probability of its labels.
Also measured: the same tagger after `Tagger.calibrate()` on mosaics of train/ photos (a monotone
map: mAP is unchanged; calibration error and F1 at 0.5 are what it is for).

Baselines: random scores (chance mAP, mean of 20 draws) and "prior only" (every image gets each
tag's frequency among the train mosaics: the best a tagger can do without looking).

    python benchmarks/tagging.py [--mosaics 300] [--calibration-mosaics 200]

With real image-text weights, on a machine that can download them (or with SIGHTLINE_MODELS set):

    python benchmarks/tagging.py --backbone hf:google/siglip2-base-patch32-256

runs the same benchmark zero-shot with the clothing class names themselves as the vocabulary
(`Vocabulary.from_names`: "t-shirt", "longsleeve", "outwear", ...).
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import IMAGENET_MODEL, make_mosaics, markdown_table, require_shared, write_result
from sklearn.metrics import average_precision_score, f1_score

from sightline.backbones import create_backbone
from sightline.learn import expected_calibration_error
from sightline.tagging import Tagger

#: clothing-dataset-small class -> ImageNet labels (names or aliases as in imagenet_labels.txt).
CLOTHING_LABELS: dict[str, list[str]] = {
    "dress": ["gown", "overskirt", "hoopskirt", "abaya", "kimono"],
    "hat": ["cowboy hat", "sombrero", "bonnet", "mortarboard", "bathing cap", "shower cap", "ski mask"],
    "longsleeve": ["sweatshirt", "cardigan"],
    "outwear": ["trench coat", "fur coat", "lab coat", "poncho", "cloak", "bulletproof vest"],
    "pants": ["jean"],
    "shirt": ["suit", "Windsor tie", "bow tie"],
    "shoes": ["running shoe", "Loafer", "sandal", "clog", "cowboy boot", "shoe shop"],
    "shorts": ["swimming trunks"],
    "skirt": ["miniskirt", "overskirt", "hoopskirt", "sarong"],
    "t-shirt": ["jersey"],
}
CLASSES = sorted(CLOTHING_LABELS)


def _indicator(labels: list[list[str]], tags: list[str]) -> np.ndarray:
    return np.array([[tag in present for tag in tags] for present in labels], dtype=int)


def _row(name: str, Y: np.ndarray, scores: np.ndarray) -> tuple[str, float, float, float]:
    return (
        name,
        float(average_precision_score(Y, scores, average="macro")),
        float(expected_calibration_error(Y, scores, multilabel=True)),
        float(f1_score(Y, scores >= 0.5, average="micro", zero_division=0)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default=f"onnx:{IMAGENET_MODEL}")
    parser.add_argument("--mosaics", type=int, default=300, help="test mosaics (photos from test/)")
    parser.add_argument("--calibration-mosaics", type=int, default=200, help="mosaics of train/ for calibrate()")
    parser.add_argument("--also", nargs="*", default=["efficientnet-lite0"], help="more ImageNet taggers, one row each")
    args = parser.parse_args()
    require_shared()
    backbone = create_backbone(args.backbone)
    vocabulary = CLOTHING_LABELS if backbone.has_labels else CLASSES
    tagger = Tagger(backbone, vocabulary=vocabulary, threshold=0.0, add_parents=False)
    assert tagger.tag_names == CLASSES, tagger.tag_names

    test_images, test_labels = make_mosaics("test", args.mosaics, seed=2)
    train_images, train_labels = make_mosaics("train", args.calibration_mosaics, seed=1)
    Y, Y_train = _indicator(test_labels, CLASSES), _indicator(train_labels, CLASSES)

    zero_shot = tagger.predict_proba(test_images)
    calibrated = tagger.calibrate(train_images, train_labels, tags=CLASSES).predict_proba(test_images)
    rng = np.random.default_rng(0)
    random_rows = [_row("random", Y, rng.random(Y.shape)) for _ in range(20)]
    prior = np.tile(Y_train.mean(axis=0), (len(Y), 1))
    rows = [
        ("random scores (mean of 20)", *np.mean([r[1:] for r in random_rows], axis=0)),
        _row("prior only (tag frequency)", Y, prior),
        _row("tagger, zero-shot", Y, zero_shot),
        _row(f"tagger + calibrate() on {len(Y_train)} train mosaics", Y, calibrated),
    ]
    for other in args.also:  # the packaged model, same vocabulary (its labels are ImageNet's too)
        other_tagger = Tagger(other, vocabulary=CLOTHING_LABELS, threshold=0.0, add_parents=False)
        rows.append(_row(f"tagger, zero-shot, `{other}`", Y, other_tagger.predict_proba(test_images)))
    per_tag = [
        (
            tag,
            int(Y[:, j].sum()),
            float(average_precision_score(Y[:, j], prior[:, j])),
            float(average_precision_score(Y[:, j], zero_shot[:, j])),
            float(zero_shot[Y[:, j] == 1, j].mean()),
            float(zero_shot[Y[:, j] == 0, j].mean()),
        )
        for j, tag in enumerate(CLASSES)
    ]
    calibration = tagger.calibration_
    mapping = "\n".join(f"- {tag}: {', '.join(labels)}" for tag, labels in CLOTHING_LABELS.items())
    vocabulary_note = (
        f"Custom vocabulary (clothing class -> ImageNet labels whose probabilities are summed):\n\n{mapping}"
        if vocabulary is CLOTHING_LABELS
        else "Vocabulary: the clothing class names themselves."
    )
    body = f"""
Backbone: `{args.backbone}` ({backbone.task}).

{len(Y)} test mosaics (2x2 photos of test/), each with 1-4 of the {len(CLASSES)} tags
({Y.sum(axis=1).mean():.2f} on average).

{markdown_table(["method", "mAP", "ECE", "micro-F1 at 0.5"], rows)}

- mAP: mean over tags of average precision (ranking quality; chance = mean tag frequency).
- ECE: expected calibration error of the confidences read as probabilities that the tag is present.
- micro-F1 at 0.5, the default threshold: random scores pass it half the time (F1 about 0.4 when a
  tag is in a third of the images); the ImageNet network spreads its one softmax over the four
  photos of a mosaic, so few tags reach 0.5, and one calibration map shared by all tags cannot
  lift the weak tags without lifting the false positives of the strong ones.
- The calibrated row uses one Platt map shared by all tags (slope {calibration.slope:.3f},
  intercept {calibration.intercept:.3f}) fitted on {calibration.images} mosaics of train/ photos: it cannot change
  the ranking (mAP), only what the numbers mean.

## Per tag (zero-shot)

{markdown_table(["tag", "test positives", "AP prior only", "AP tagger", "mean conf. present", "mean conf. absent"],
                per_tag)}

{vocabulary_note}

## With real image-text weights

On a machine that can download them (or with `SIGHTLINE_MODELS` pointing at a copy), the same
benchmark runs zero-shot with the clothing class names themselves as the vocabulary:
`python benchmarks/tagging.py --backbone hf:google/siglip2-base-patch32-256`.
"""  # fmt: skip
    write_result("tagging", "Pre-built tagging quality (clothing mosaics)", body)


if __name__ == "__main__":
    main()
