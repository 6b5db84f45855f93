"""How strongly to hold a fine-tuned iteration's temperature to the head's own scale (T = 1).

A fine-tuned iteration is calibrated on its validation fold (a fifth of the images: 18-30 of them at 15
shots per tag), new to the network; one temperature fitted by NLL on so few images swings with a
handful of them. Each draw fine-tunes once (as `benchmarks/fine_tune.py` does, same draws), keeps the
validation fold's logits and the held-out test images' logits, and then refits the temperature with
``TemperatureScaler(prior_strength=w)`` for each w: the held-out ECE per w, and the oracle (the
temperature fitted on the held-out images themselves: the best one temperature can do).

    python benchmarks/fine_tune_calibration.py --sets fabric15,clothing15 --draws 4
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import ClassVar
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, require_shared, write_result
from fine_tune import BASE, load_set

os.environ.setdefault("SIGHTLINE_THREADS", "1")

import sightline.finetune.calibration as finetune_calibration
from sightline.backbones import MemoryEmbeddingCache, l2_normalize
from sightline.classifier import Classifier
from sightline.finetune import FineTuneOptions
from sightline.learn.calibration import TemperatureScaler, expected_calibration_error

STRENGTHS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


class _Recording(TemperatureScaler):
    """The calibrator fitted on the validation fold, keeping the logits it saw."""

    seen: ClassVar[list[tuple[np.ndarray, np.ndarray]]] = []

    def fit(self, logits: np.ndarray, y: np.ndarray) -> TemperatureScaler:
        _Recording.seen.append((np.asarray(logits), np.asarray(y)))
        return super().fit(logits, y)


def fine_tuned_logits(name: str, draw: int, args: argparse.Namespace) -> dict[str, np.ndarray] | None:
    """Validation-fold and held-out logits (and labels) of one fine-tuned draw; None when fine-tuning
    kept the frozen network (regular calibration then stays)."""
    shots = int(name[-2:])
    x_train, y_train, x_test, y_test = load_set(name, shots, draw, args.test_per_tag)
    options = FineTuneOptions(max_epochs=args.epochs, patience=args.patience, resolution=args.resolution,
                              budget_seconds=args.budget, random_state=draw)  # fmt: skip
    _Recording.seen.clear()
    with mock.patch.object(finetune_calibration, "make_calibrator", lambda **_: _Recording()):
        tuned = Classifier(BASE, fine_tune=options, cache=MemoryEmbeddingCache()).fit(x_train, y_train)
    if not _Recording.seen:
        return None
    val_logits, val_y = _Recording.seen[-1]
    embedded = tuned.embed(x_test)
    test_logits = tuned.model_.head.logits(l2_normalize(embedded.vectors))
    classes = list(tuned.model_.classes)
    test_y = np.array([classes.index(y_test[i]) for i in embedded.ok_indices])
    return {"val_logits": val_logits, "val_y": val_y, "test_logits": test_logits, "test_y": test_y}


def held_out_ece(draw: dict[str, np.ndarray], calibrator: TemperatureScaler) -> float:
    return expected_calibration_error(draw["test_y"], calibrator.transform(draw["test_logits"]), multilabel=False)


def main() -> None:
    require_shared()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="fabric15,clothing15")
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--budget", type=float, default=900.0)
    parser.add_argument("--test-per-tag", type=int, default=25)
    parser.add_argument("--cache", type=Path, default=None, help="folder keeping each draw's logits (.npz)")
    args = parser.parse_args()

    headers = ["set", "draw", "val imgs", *(f"w={w:g}" for w in STRENGTHS), "oracle", "T (w=0 / w=5)"]
    rows: list[list[object]] = []
    for name in args.sets.split(","):
        for d in range(args.draws):
            stored = args.cache / f"{name}-{d}-{args.resolution}.npz" if args.cache else None
            if stored and stored.exists():
                draw = dict(np.load(stored))
            else:
                tuned = fine_tuned_logits(name, d, args)
                if tuned is None:
                    print(f"{name} draw {d}: fine-tuning kept the frozen network", flush=True)
                    continue
                draw = tuned
                if stored:
                    stored.parent.mkdir(parents=True, exist_ok=True)
                    np.savez(stored, **draw)
            fits = [TemperatureScaler(prior_strength=w).fit(draw["val_logits"], draw["val_y"]) for w in STRENGTHS]
            oracle = TemperatureScaler().fit(draw["test_logits"], draw["test_y"])
            t0, t5 = fits[0].temperature_, fits[STRENGTHS.index(5.0)].temperature_
            rows.append([name, d, len(draw["val_y"]), *(held_out_ece(draw, f) for f in fits),
                         held_out_ece(draw, oracle), f"{t0:.2f} / {t5:.2f}"])  # fmt: skip
            print(rows[-1], flush=True)
    means = [["mean", "", "", *(float(np.mean([r[3 + i] for r in rows])) for i in range(len(STRENGTHS) + 1)), ""]]
    body = (
        f"EfficientNet-Lite0 fine-tuned at {args.resolution} px, at most {args.epochs} epochs, patience "
        f"{args.patience}; {args.test_per_tag} held-out images per tag. Each column refits the temperature on the "
        "validation fold with that prior strength w (0: plain NLL, as before).\n\n"
        + markdown_table(headers, rows + means)
    )
    write_result("fine_tune_calibration", "Fine-tuned calibration: held-out ECE by the prior on log T", body)


if __name__ == "__main__":
    main()
