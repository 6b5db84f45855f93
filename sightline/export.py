"""A trained `Classifier` as an ONNX model, packaged like Azure Custom Vision's ONNX export.

The zip holds `model.onnx` (the backbone's image graph with the head and its calibration appended:
preprocessed pixels in, calibrated probabilities out), `labels.txt` (one tag per line, in output
column order), `sightline.json` (how to preprocess an image, what comes out, what is left out) and a
short `README.md`. As in Azure's export, decoding and resizing stay outside the graph.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

from sightline.backbones.graph import GraphTail, default_opset, extend_graph, free_name, require_onnx
from sightline.classifier import Classifier
from sightline.errors import ExportError, NotTrainedError
from sightline.learn.onnx_head import append_probabilities

if TYPE_CHECKING:
    import onnx

FORMAT = "sightline-onnx-export"
FORMAT_VERSION = 1
OUTPUT = "probabilities"


def onnx_model(classifier: Classifier) -> onnx.ModelProto:
    """The classifier as one ONNX graph: preprocessed pixels (N, ...) -> probabilities (N, len(classes_))."""
    onnx = require_onnx()
    trained = classifier.model_
    if trained is None:
        raise NotTrainedError("this classifier is not trained yet: there is nothing to export")
    model = classifier.backbone.image_graph()
    free_name(model, OUTPUT)  # a backbone (an ImageNet tagger, say) may call its own output that
    tail = GraphTail("sightline_head")
    output = append_probabilities(tail, trained, model.graph.output[0].name, OUTPUT)
    model = extend_graph(model, tail, output, len(trained.classes))
    model.producer_name, model.producer_version = "sightline", _version()
    model.doc_string = f"Sightline classifier on {classifier.backbone.name}: calibrated probabilities of {OUTPUT}"
    onnx.helper.set_model_props(model, {"labels": "\n".join(trained.classes), "backbone": classifier.backbone.name})
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as error:
        raise ExportError(f"the exported graph does not validate: {error}") from None
    return model


def export_onnx(classifier: Classifier) -> bytes:
    """The zip described in the module docstring."""
    model = onnx_model(classifier)
    try:
        graph = model.SerializeToString()
    except ValueError:  # protobuf refuses messages over 2 GB
        raise ExportError(f"{classifier.backbone.name} is too large for a single-file ONNX model (2 GB)") from None
    description = describe(classifier, model)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.onnx", graph)
        archive.writestr("labels.txt", "".join(f"{tag}\n" for tag in classifier.classes_))
        archive.writestr("sightline.json", json.dumps(description, indent=2))
        archive.writestr("README.md", _readme(description))
    return out.getvalue()


def describe(classifier: Classifier, model: onnx.ModelProto) -> dict[str, Any]:
    """`sightline.json`: the input the graph expects, the output it gives, and what it leaves out."""
    trained = classifier.model_
    assert trained is not None  # onnx_model checked
    spec = classifier.backbone.preprocess
    channels = ["R", "G", "B"] if spec.color == "RGB" else ["B", "G", "R"]
    size = [spec.height, spec.width]
    shape = ["batch", 3, *size] if spec.layout == "NCHW" else ["batch", *size, 3]
    resize = (
        f"scale the image to cover {spec.width}x{spec.height} keeping its aspect ratio, then crop the centre "
        f"(the crop keeps {spec.crop_fraction:.1%} of the short side)"
        if spec.resize == "center-crop"
        else f"resize to {spec.width}x{spec.height}, ignoring the aspect ratio"
    )
    negative = trained.negative_class
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "backbone": classifier.backbone.name,
        "backbone_fingerprint": classifier.backbone.fingerprint,
        "classification_type": "Multilabel" if trained.multilabel else "Multiclass",
        "opset": default_opset(model),
        "input": {
            "name": model.graph.input[0].name,
            "dtype": "float32",
            "shape": shape,
            "layout": spec.layout,
            "channel_order": "".join(channels),
            "height": spec.height,
            "width": spec.width,
            "resize": spec.resize,
            "crop_fraction": spec.crop_fraction,
            "resample": spec.resample,
            "mean": list(spec.mean),
            "std": list(spec.std),
            "steps": [
                "decode the image, turn it upright as its EXIF orientation says, convert to RGB",
                f"{resize}, with {spec.resample} resampling (Pillow)",
                f"channels in {''.join(channels)} order, values scaled to 0..1 (divide 8-bit values by 255)",
                "per channel: (value - mean) / std, with mean and std listed here in that channel order",
                f"layout {spec.layout}, float32; stack images on the first axis (any batch size)",
            ],
        },
        "output": {
            "name": OUTPUT,
            "dtype": "float32",
            "shape": ["batch", len(trained.classes)],
            "labels": "labels.txt",
            "meaning": (
                "per tag, the calibrated probability that the tag applies (independent sigmoids)"
                if trained.multilabel
                else "calibrated probabilities over the tags (softmax, rows sum to 1)"
            ),
        },
        "decisions": {
            "threshold": trained.threshold,
            "tag_thresholds": dict(zip(trained.reported_classes, map(float, trained.tag_thresholds), strict=True)),
            "uncertainty_margin": trained.uncertainty_margin,
            "negative_tag": negative,
        },
        "not_in_graph": [
            "decoding, EXIF rotation, resizing and normalisation (see input.steps)",
            "the unknown (novelty) score: a nearest-neighbour distance to the training images, Sightline only",
            "thresholds and the uncertain flag: apply decisions.tag_thresholds to the probabilities",
            *(
                [
                    "test-time views: Sightline predicts on the mean of the embeddings of the image and its mirror; "
                    "this graph sees the image alone, so its probabilities differ slightly"
                ]
                if trained.test_time_views
                else []
            ),
            *(
                [f"the negative tag {negative!r}: its probability is the product of (1 - p) over the tags"]
                if trained.multilabel and negative
                else []
            ),
        ],
    }


def _readme(description: dict[str, Any]) -> str:
    spec = description["input"]
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(spec["steps"], 1))
    return f"""# Sightline ONNX export ({description["classification_type"]}, backbone {description["backbone"]})

`model.onnx` maps preprocessed pixels to calibrated probabilities (`{description["output"]["name"]}`, one column
per line of `labels.txt`). Preprocessing is not part of the graph; `sightline.json` has the exact values.

Input `{spec["name"]}`, float32, shape {spec["shape"]}:

{steps}

```python
import numpy as np, onnxruntime
session = onnxruntime.InferenceSession("model.onnx")
labels = open("labels.txt").read().splitlines()
probabilities = session.run(["{description["output"]["name"]}"], {{"{spec["name"]}": pixels}})[0]
```

Left out of the graph: {"; ".join(description["not_in_graph"])}.
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sightline")
    except PackageNotFoundError:
        return "unknown"
