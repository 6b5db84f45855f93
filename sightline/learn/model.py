"""A trained classifier on embeddings: calibrated probabilities, decisions, unknown scores, and its
state as plain arrays + JSON (no pickle: a saved model file must never execute code when loaded)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sightline.errors import ModelFileError
from sightline.learn.calibration import PlattScaler, TemperatureScaler
from sightline.learn.decisions import Reason, TagDecision, decide
from sightline.learn.evaluation import EvaluationReport
from sightline.learn.heads import LinearHead
from sightline.learn.novelty import NoveltyScorer, spread_stats

FORMAT = "sightline.learn.trained-model/1"
DEFAULT_UNKNOWN_THRESHOLD = 0.99


def negative_probability(probs: np.ndarray) -> np.ndarray:
    """Probability of "none of the tags" from per-tag probabilities: prod(1 - p_i).

    This assumes the tags are independent given the image, which is what separate sigmoids model;
    with strongly correlated tags it underestimates how often an image has none of them.
    """
    return np.prod(1.0 - probs, axis=1)


def reported_tags(classes: list[str], *, multilabel: bool, negative_class: str | None) -> list[str]:
    """The tags a prediction reports: Multilabel adds the negative tag (derived, not a head column)."""
    return [*classes, negative_class] if multilabel and negative_class is not None else list(classes)


def reported_columns(probs: np.ndarray, *, multilabel: bool, negative_class: str | None) -> np.ndarray:
    """Per-tag columns plus, for Multilabel with a negative tag, its probability as the last column.

    Works for 0/1 indicators too: the last column is then 1 exactly for images with no tag.
    """
    if multilabel and negative_class is not None:
        return np.column_stack([probs, negative_probability(probs)])
    return probs


@dataclass(frozen=True)
class Prediction:
    """The decision for one image: tags by probability (highest first), and how much to trust it."""

    tags: list[TagDecision]
    uncertain: bool  # the answer could flip, or the image is unknown: ask a person
    unknown_score: float  # 0..1, how unlike the training images this image is
    unknown: bool  # unknown_score >= the model's unknown_threshold: probably none of the known tags
    reasons: list[Reason] = field(default_factory=list)  # why it is uncertain (empty when it is not)


@dataclass(eq=False)
class TrainedModel:
    """Everything needed to predict, plus how it was evaluated. Built by `train_model`.

    ``tag_thresholds`` start at ``threshold`` for every reported tag. The report's best-F1
    ``suggested_threshold`` per tag is not applied automatically (it is fitted on the same
    out-of-fold predictions, so optimistic); a caller may assign it to ``tag_thresholds``.
    """

    classes: list[str]
    multilabel: bool
    negative_class: str | None
    head: LinearHead
    calibrator: TemperatureScaler | PlattScaler
    novelty: NoveltyScorer
    threshold: float
    tag_thresholds: np.ndarray  # one per reported tag (see `reported_classes`), used by `decide`
    uncertainty_margin: float
    report: EvaluationReport
    warnings: list[str]
    unknown_threshold: float = DEFAULT_UNKNOWN_THRESHOLD
    #: Trained to predict on the mean of an image and its mirror (`sightline.backbones.views`): the
    #: caller must embed new images that way too (`Classifier` does).
    test_time_views: bool = False

    @property
    def reported_classes(self) -> list[str]:
        """The tags a prediction reports: Multilabel adds the negative tag (derived, not a column)."""
        return reported_tags(self.classes, multilabel=self.multilabel, negative_class=self.negative_class)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated (n, len(classes)) probabilities, columns in `classes` order."""
        return self.calibrator.transform(self.head.logits(X))

    def reported_proba(self, X: np.ndarray) -> np.ndarray:
        """`predict_proba` plus, for Multilabel with a negative tag, its probability as a last column."""
        return reported_columns(self.predict_proba(X), multilabel=self.multilabel, negative_class=self.negative_class)

    def unknown_scores(self, X: np.ndarray) -> np.ndarray:
        """(n,) novelty in [0, 1] (see `NoveltyScorer`)."""
        return self.novelty.score(X)

    def decide(self, X: np.ndarray, thresholds: float | np.ndarray | None = None) -> list[Prediction]:
        """Thresholded, sorted tags with the uncertain and unknown flags and their reasons, one per image.

        ``thresholds``: one value or one per reported tag, in place of ``tag_thresholds`` (a project's
        thresholds can change after training without retraining).
        """
        probs = self.reported_proba(X)
        unknown = self.unknown_scores(X)
        limits = self.tag_thresholds if thresholds is None else thresholds
        predictions = []
        for row, score in zip(probs, unknown, strict=True):
            decision = decide(
                row,
                self.reported_classes,
                multilabel=self.multilabel,
                threshold=limits,
                uncertainty_margin=self.uncertainty_margin,
                unknown_score=float(score),
                unknown_threshold=self.unknown_threshold,
            )
            predictions.append(
                Prediction(
                    tags=decision.tags,
                    uncertain=decision.uncertain,
                    unknown_score=float(score),
                    unknown=bool(score >= self.unknown_threshold),
                    reasons=decision.reasons,
                )
            )
        return predictions

    # --- saving without pickle -------------------------------------------------------------------

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """The model as named arrays (for ``np.savez``) and JSON-ready metadata."""
        arrays = {
            "coef": self.head.coef_,
            "intercept": self.head.intercept_,
            "tag_thresholds": np.asarray(self.tag_thresholds, dtype=np.float64),
            "novelty_embeddings": self.novelty.embeddings_.astype(np.float16),  # lossless, see NoveltyScorer
            "novelty_reference_distances": self.novelty.reference_distances_,
            "novelty_group_sums": self.novelty.group_sums_,
            "novelty_group_counts": self.novelty.group_counts_,
            "novelty_powers": self.novelty.powers_,
            "novelty_shapes": self.novelty.shapes_,
            "novelty_stats": np.concatenate(
                [self.novelty.knn_stats_, self.novelty.mean_stats_, self.novelty.combined_stats_]
            ),
        }
        meta = {
            "format": FORMAT,
            "classes": list(self.classes),
            "multilabel": self.multilabel,
            "negative_class": self.negative_class,
            "c": float(self.head.C),
            "threshold": float(self.threshold),
            "uncertainty_margin": float(self.uncertainty_margin),
            "unknown_threshold": float(self.unknown_threshold),
            "novelty_k": int(self.novelty.k),
            "test_time_views": self.test_time_views,
            "warnings": list(self.warnings),
            "report": self.report.to_dict(),
        }
        if isinstance(self.calibrator, PlattScaler):
            arrays["platt_slope"] = self.calibrator.slope_
            arrays["platt_offset"] = self.calibrator.offset_
        else:
            meta["temperature"] = self.calibrator.temperature_
        meta["calibration_samples"] = int(self.calibrator.n_samples_)
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> TrainedModel:
        """Rebuild a model saved with `to_arrays`; damaged or foreign input raises ModelFileError."""
        if meta.get("format") != FORMAT:
            raise ModelFileError(
                f"Unsupported model format {meta.get('format')!r}; this version of Sightline reads {FORMAT!r}."
            )
        try:
            return cls._from_arrays(arrays, meta)
        except (KeyError, ValueError, TypeError, IndexError) as error:
            raise ModelFileError(f"The saved model is damaged or incomplete ({error!r}).") from error

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> TrainedModel:
        multilabel = bool(meta["multilabel"])
        coef = np.asarray(arrays["coef"], dtype=np.float64)
        head = LinearHead(multilabel=multilabel, C=meta["c"])
        head.coef_ = coef
        head.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64)
        head.classes_ = np.arange(coef.shape[0])
        head.n_features_in_ = coef.shape[1]
        if multilabel:
            calibrator = PlattScaler()
            calibrator.slope_ = np.asarray(arrays["platt_slope"], dtype=np.float64)
            calibrator.offset_ = np.asarray(arrays["platt_offset"], dtype=np.float64)
        else:
            calibrator = TemperatureScaler()
            calibrator.temperature_ = float(meta["temperature"])
        calibrator.n_samples_ = int(meta["calibration_samples"])
        novelty = NoveltyScorer(k=int(meta["novelty_k"]))
        novelty.embeddings_ = np.asarray(arrays["novelty_embeddings"]).astype(np.float32)
        novelty.reference_distances_ = np.asarray(arrays["novelty_reference_distances"], dtype=np.float64)
        # saved before the fitted Box-Cox powers: the log of both distances (power 0), as then
        powers = arrays["novelty_powers"] if "novelty_powers" in arrays else np.zeros(2)
        novelty.powers_ = np.asarray(powers, dtype=np.float64).reshape(2)
        # saved before the fitted tail shapes: normal tails (shape 2), as then
        shapes = arrays["novelty_shapes"] if "novelty_shapes" in arrays else np.full(2, 2.0)
        novelty.shapes_ = np.asarray(shapes, dtype=np.float64).reshape(2)
        if "novelty_stats" in arrays:
            stats = np.asarray(arrays["novelty_stats"], dtype=np.float64).reshape(3, 2)
            novelty.knn_stats_, novelty.mean_stats_, novelty.combined_stats_ = stats
            novelty.group_sums_ = np.asarray(arrays["novelty_group_sums"], dtype=np.float64)
            novelty.group_counts_ = np.asarray(arrays["novelty_group_counts"], dtype=np.float64)
        else:  # saved before the tag-mean evidence: the k-NN evidence alone, fitted on its stored reference
            novelty.knn_stats_ = spread_stats(np.log(np.maximum(novelty.reference_distances_, 1e-9)))
            novelty.mean_stats_ = novelty.combined_stats_ = np.array([0.0, 1.0])
            novelty.group_sums_ = np.zeros((0, coef.shape[1]))
            novelty.group_counts_ = np.zeros(0)
        classes = [str(c) for c in meta["classes"]]
        if coef.shape[0] != len(classes) or novelty.embeddings_.shape[1] != coef.shape[1]:
            raise ValueError("array shapes do not match the classes and embedding size")
        return cls(
            classes=classes,
            multilabel=multilabel,
            negative_class=meta["negative_class"],
            head=head,
            calibrator=calibrator,
            novelty=novelty,
            threshold=float(meta["threshold"]),
            tag_thresholds=np.asarray(arrays["tag_thresholds"], dtype=np.float64),
            uncertainty_margin=float(meta["uncertainty_margin"]),
            report=EvaluationReport.from_dict(meta["report"]),
            warnings=[str(w) for w in meta["warnings"]],
            unknown_threshold=float(meta["unknown_threshold"]),
            test_time_views=bool(meta.get("test_time_views", False)),
        )
