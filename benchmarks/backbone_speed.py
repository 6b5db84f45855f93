"""Which image-text model should be the default? CPU speed of each candidate's image tower.

Speed depends on the architecture, not the weights, so each candidate is built from its published
configuration with random weights (no download), exported to ONNX as Sightline does, and timed in
ONNX Runtime at batch 32 and batch 1. Accuracy is the published ImageNet zero-shot top-1 (catalog).

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
    session.run(None, {"pixel_values": x})  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, {"pixel_values": x})
        times.append(time.perf_counter() - start)
    return statistics.median(times) / batch * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    published = {entry.name: entry for entry in CATALOG}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (kind, config) in CANDIDATES.items():
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
    )
    write_result("backbone_speed", "Default backbone: accuracy per CPU millisecond", body)


if __name__ == "__main__":
    main()
