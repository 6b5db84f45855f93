"""`tiny`: a small CLIP with random (seeded) weights, built locally, for tests and offline demos.

Its features are RANDOM: they carry colour and layout, not meaning. It exists so that tests and the
demo run the very code path of real `hf:` models (a transformers folder with config, weights,
tokenizer and preprocessor config, loaded by `HFBackbone`) on a machine that cannot download weights.
"""

from __future__ import annotations

import json
import os
import shutil
import string
import tempfile
from pathlib import Path

from sightline.backbones.hf import HFBackbone, quiet_libraries
from sightline.config import cache_dir

TINY_VERSION = "tiny-clip-v2"
_IMAGE_SIZE = 64
_CONTEXT = 32
_SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]


def _build_tokenizer(folder: Path) -> None:
    """A character-level tokenizer: deterministic, tiny, and built without any download."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = list(string.ascii_lowercase + string.digits + " .,'-")
    vocab = {token: i for i, token in enumerate(_SPECIALS + alphabet)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", vocab["<bos>"]), ("<eos>", vocab["<eos>"])]
    )
    tokenizer.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
        unk_token="<unk>", model_max_length=_CONTEXT,
    )  # fmt: skip
    fast.save_pretrained(folder)


def _build_model(folder: Path, seed: int) -> None:
    import torch
    from transformers import CLIPConfig, CLIPModel

    vocab_size = len(_SPECIALS) + len(string.ascii_lowercase + string.digits + " .,'-")
    config = CLIPConfig(
        text_config={
            "vocab_size": vocab_size, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 2, "max_position_embeddings": _CONTEXT, "pad_token_id": 0,
            "bos_token_id": 2, "eos_token_id": 3,
        },
        vision_config={
            "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
            "image_size": _IMAGE_SIZE, "patch_size": 8,
        },
        projection_dim=64,
    )  # fmt: skip
    torch.manual_seed(seed)
    CLIPModel(config).eval().save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "image_processor_type": "CLIPImageProcessor",
                "do_resize": True,
                "size": {"shortest_edge": _IMAGE_SIZE},
                "resample": 3,
                "do_center_crop": True,
                "crop_size": {"height": _IMAGE_SIZE, "width": _IMAGE_SIZE},
                "image_mean": [0.48145466, 0.4578275, 0.40821073],
                "image_std": [0.26862954, 0.26130258, 0.27577711],
            },
            indent=2,
        )
    )
    (folder / "README.md").write_text("Sightline `tiny` backbone: random weights, for tests and demos only.\n")


def tiny_model_dir(seed: int = 0) -> Path:
    """The tiny model's folder, built on first use (atomically, so parallel test workers can race)."""
    folder = cache_dir() / "models" / f"{TINY_VERSION}-seed{seed}"
    if (folder / "config.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".build-"))
    try:
        with quiet_libraries():
            _build_model(tmp, seed)
            _build_tokenizer(tmp)
        os.replace(tmp, folder)
    except OSError:
        if not (folder / "config.json").is_file():  # somebody else won the race, or a real error
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def create_tiny_backbone(seed: int = 0, device: str = "auto") -> HFBackbone:
    return HFBackbone(str(tiny_model_dir(seed)), name="tiny" if seed == 0 else f"tiny:{seed}", device=device)
