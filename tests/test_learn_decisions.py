"""sightline.learn.decisions: every uncertain decision says why, with its numbers, one reason code at a time."""

from __future__ import annotations

import numpy as np
import pytest

from sightline.learn.decisions import (
    BELOW_THRESHOLD,
    CLOSE_RUNNER_UP,
    NEAR_THRESHOLD,
    UNKNOWN,
    Reason,
    decide,
)

TAGS = ["cat", "dog", "fox"]


def test_a_clear_answer_has_no_reasons():
    decision = decide(np.array([0.05, 0.9, 0.05]), TAGS, multilabel=False, unknown_score=0.3, unknown_threshold=0.99)
    assert not decision.uncertain and decision.reasons == []
    assert decision.tags[0].above_threshold and decision.tags[0].threshold == 0.5


def test_below_threshold_names_the_top_tag_and_its_threshold():
    decision = decide(np.array([0.6, 0.2, 0.2]), TAGS, multilabel=False, threshold=np.array([0.7, 0.5, 0.5]))
    assert decision.uncertain
    assert decision.reasons == [Reason(BELOW_THRESHOLD, tag="cat", probability=0.6, threshold=0.7)]
    assert not decision.tags[0].above_threshold and decision.tags[0].threshold == 0.7


def test_close_runner_up_gives_both_tags_and_the_margin():
    decision = decide(np.array([0.55, 0.5, 0.05]), TAGS, multilabel=False, uncertainty_margin=0.1)
    (reason,) = decision.reasons
    assert reason.code == CLOSE_RUNNER_UP
    assert (reason.tag, reason.runner_up, reason.margin) == ("cat", "dog", 0.1)
    assert reason.probability == pytest.approx(0.55) and reason.runner_up_probability == pytest.approx(0.5)
    assert decision.tags[0].above_threshold  # close, but it still passes its threshold


def test_a_coin_toss_below_the_threshold_has_both_reasons():
    decision = decide(np.array([0.45, 0.42, 0.13]), TAGS, multilabel=False)
    assert [r.code for r in decision.reasons] == [BELOW_THRESHOLD, CLOSE_RUNNER_UP]


def test_near_threshold_lists_each_multilabel_tag_that_could_flip():
    decision = decide(np.array([0.95, 0.55, 0.44]), TAGS, multilabel=True, threshold=0.5, uncertainty_margin=0.1)
    assert [(r.code, r.tag) for r in decision.reasons] == [(NEAR_THRESHOLD, "dog"), (NEAR_THRESHOLD, "fox")]
    assert decision.reasons[1].to_dict() == {
        "code": "near_threshold", "tag": "fox", "probability": 0.44, "threshold": 0.5, "margin": 0.1,
    }  # fmt: skip
    # several confident tags are a fine Multilabel answer; close runner-ups do not count there
    assert decide(np.array([0.95, 0.9, 0.02]), TAGS, multilabel=True).reasons == []


def test_an_unknown_image_is_never_above_threshold_and_says_so_first():
    decision = decide(np.array([0.97, 0.02, 0.01]), TAGS, multilabel=False, unknown_score=0.995, unknown_threshold=0.99)
    assert decision.uncertain
    assert decision.reasons == [Reason(UNKNOWN, unknown_score=0.995, unknown_threshold=0.99)]
    assert not any(t.above_threshold for t in decision.tags)
    multilabel = decide(np.array([0.97, 0.9, 0.8]), TAGS, multilabel=True, unknown_score=1.0, unknown_threshold=0.99)
    assert not any(t.above_threshold for t in multilabel.tags) and multilabel.reasons[0].code == UNKNOWN
    # just under the unknown threshold: an ordinary, confident answer
    known = decide(np.array([0.97, 0.02, 0.01]), TAGS, multilabel=False, unknown_score=0.98, unknown_threshold=0.99)
    assert known.reasons == [] and known.tags[0].above_threshold


def test_reasons_round_trip_through_json():
    reason = Reason(
        CLOSE_RUNNER_UP, tag="cat", probability=0.5, runner_up="dog", runner_up_probability=0.45, margin=0.1
    )
    assert Reason.from_dict(reason.to_dict()) == reason
    assert "unknown_score" not in reason.to_dict()
