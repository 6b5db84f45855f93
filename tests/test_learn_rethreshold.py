"""Precision and recall at another threshold, from stored probabilities (learn's job, not the service's)."""

import numpy as np

from sightline.learn.rethreshold import precision_recall_at


def test_micro_and_per_tag_figures_at_a_threshold():
    truth = np.array([[1, 0], [0, 1], [1, 1]])
    probabilities = np.array([[0.9, 0.2], [0.4, 0.7], [0.3, 0.8]])
    figures = precision_recall_at(truth, probabilities, 0.5)
    # Predicted positives: (0,0), (1,1), (2,1): all three right, of four true cells.
    assert (figures.overall.precision, figures.overall.recall) == (1.0, 0.75)
    assert [(f.precision, f.recall) for f in figures.per_tag] == [(1.0, 0.5), (1.0, 1.0)]


def test_nothing_predicted_leaves_precision_undefined_not_zero():
    figures = precision_recall_at(np.array([[1], [0]]), np.array([[0.1], [0.2]]), 0.5)
    assert (figures.overall.precision, figures.overall.recall) == (None, 0.0)
