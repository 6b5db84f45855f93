"""Pre-built tagging: "what is in this photo?" with no training, like Azure AI Vision's `tags`.

Two kinds of backbone tag images:

- image-text models (`has_text`: CLIP, SigLIP) score an image against the text embedding of every tag
  of an open vocabulary (the shipped 1,506 tags, or any list of words);
- classification models (`task == "classification"`, e.g. an ImageNet ONNX network) have a fixed
  vocabulary: their labels are the tags and their probabilities the confidences.

Multi-label by default: each tag gets its own independent score, so several can be right at once and
adding tags to the vocabulary never changes another tag's score. `mode="single"` instead shares one
softmax across the given tags: an instant zero-shot classifier over, say, "ripe, unripe, rotten".

What "confidence" means (multilabel)
------------------------------------
Every tag's confidence is `sigmoid(z)` of a raw score `z` that depends only on that tag and the image:

- SigLIP-family models (`sigmoid_zero_shot`) were trained with one sigmoid per image-text pair, so
  `z = scale * cos(image, tag) + bias` with the model's own learned scale and bias: the confidence is
  the model's own probability that the tag's captions match the photo. These are known to be
  conservative (a correct tag often scores 0.2-0.4), so few tags pass the default 0.5.
- CLIP-family models were trained with a softmax over captions and have no bias, so a lone
  `cos(image, tag)` has no absolute meaning. Each tag is therefore scored against a fixed neutral
  caption ("a photo.", "an image.", ...: `NEUTRAL_PROMPTS`, embedded by the same backbone):
  `z = scale * (cos(image, tag) - cos(image, neutral))`. The confidence is the probability CLIP itself
  gives the tag's captions when asked to choose between them and a caption that names nothing: above
  0.5 when the tag describes the photo better than "a photo." does. The neutral caption is per image
  and per backbone, fitted to no data.
- Classification models: the summed softmax probability of the tag's labels (noisy-or for sigmoid
  outputs), i.e. the network's own probability.

None of these is a calibrated probability that the tag is present: that needs labelled images.
`Tagger.calibrate(images, tag_lists)` fits one Platt map `sigmoid(slope * z + intercept)` shared by all
tags (one softmax temperature in single mode) on your labelled photos; it is saved and loaded as JSON
(`TagCalibration`) and only applies to the backbone it was fitted on.

Hierarchy: when a tag passes the threshold, its ancestors in the vocabulary ("golden retriever" -> dog,
mammal, animal) are reported too, with the child's confidence when theirs is lower, and
`inferred_from` naming the tag that implied them (as Amazon Rekognition's parents).
"""

from __future__ import annotations

from sightline.tagging.common import NEUTRAL_PROMPTS
from sightline.tagging.results import TagCalibration, TagResult, TagScore
from sightline.tagging.tagger import Tagger, suggest_tags

__all__ = [
    "NEUTRAL_PROMPTS",
    "TagCalibration",
    "TagResult",
    "TagScore",
    "Tagger",
    "suggest_tags",
]
