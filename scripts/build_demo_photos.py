"""Writes sightline/data/demo/: the real photos `sightline demo` trains on, from clothing-dataset-small (CC0).

A few tags x (16 training photos + 2 new ones for the quick test), drawn with a fixed seed from the
data set's train/ and test/ folders, downscaled to 224 px on the long side (JPEG quality 80) so the
whole set stays well under 1 MB inside the package. The data set's CC0 licence is copied beside them.

    python scripts/build_demo_photos.py [--source ../shared/data/clothing-dataset-small/data]
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
from pathlib import Path

from PIL import Image

TAGS = ("hat", "pants", "shoes", "t-shirt")
TRAIN, NEW = 16, 2
LONG_SIDE, QUALITY = 224, 80
OUT = Path(__file__).resolve().parents[1] / "sightline" / "data" / "demo"


def _small_jpeg(path: Path) -> bytes:
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=QUALITY, optimize=True)
        return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "clothing-dataset-small" / "data"
    parser.add_argument("--source", type=Path, default=default)
    source = parser.parse_args().source
    shutil.rmtree(OUT, ignore_errors=True)
    rng = random.Random(17)
    for tag in TAGS:
        for split, count, folder in (("train", TRAIN, OUT / "train" / tag), ("test", NEW, OUT / "new")):
            folder.mkdir(parents=True, exist_ok=True)
            photos = sorted((source / split / tag).glob("*.jpg"))
            for i, photo in enumerate(rng.sample(photos, count)):
                name = f"{i:02}.jpg" if split == "train" else f"{tag}-{i + 1}.jpg"
                (folder / name).write_bytes(_small_jpeg(photo))
    shutil.copyfile(source / "LICENSE", OUT / "LICENSE")
    (OUT / "README.md").write_text(
        "Photos for `sightline demo`: a downscaled subset of clothing-dataset-small\n"
        "(github.com/alexeygrigorev/clothing-dataset-small, commit 11961516512414bf9f6c150a832cfd21b54a6b54),\n"
        "CC0 1.0 (see LICENSE). train/<tag>/ are the labelled photos; new/ are photos the demo quick-tests.\n"
        "Made by scripts/build_demo_photos.py.\n"
    )
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{sum(1 for _ in OUT.rglob('*.jpg'))} photos, {total / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    main()
