"""`hf:<model id>` backbones: Hugging Face image-text models (CLIP, SigLIP, SigLIP 2) and image-only
ones (DINOv2), loaded the ordinary `from_pretrained` way.

On CPU the image tower is exported once to ONNX (cached by fingerprint, parity checked) and run by
ONNX Runtime, which is measured faster than eager torch here; on a CUDA GPU it runs in torch (bf16).
The text tower runs in torch: text embeddings are computed once per phrase and cached on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from sightline.backbones.base import Backbone, digest
from sightline.backbones.cache import DiskEmbeddingCache
from sightline.backbones.graph import require_onnx
from sightline.backbones.torch_export import ExportedTower, export_tower, quiet_torch, tower_path
from sightline.config import cache_dir, env_flag, env_text, models_dir
from sightline.errors import ExportError, ModelConfigError, ModelError, ModelNotFoundError
from sightline.imaging import PreprocessSpec

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

_WEIGHT_PATTERNS = ["*.json", "*.txt", "*.model", "*.safetensors"]
_PIL_RESAMPLE = {2: "bilinear", 3: "bicubic"}


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Keep transformers' progress bars and torch's exporter chatter out of a user's terminal."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with quiet_torch():
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()


# --- finding the weights --------------------------------------------------------------------------


def _offline() -> bool:
    return env_flag("HF_HUB_OFFLINE")


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A bounded check, so a machine without network fails in seconds instead of hanging on retries."""
    host = urlparse(env_text("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _missing_weights_message(model_id: str, why: str) -> str:
    folder = models_dir() or Path("$SIGHTLINE_MODELS")
    return (
        f"model {model_id!r} is not on this machine and {why}. Provide it in one of two ways: "
        f"run once on a connected machine (it goes to the Hugging Face cache), or copy the model folder "
        f"to {folder / model_id} (for example `hf download {model_id} --local-dir {folder / model_id}`) "
        f"and set SIGHTLINE_MODELS. For an offline demo, use the backbone `tiny` (random features)."
    )


def weights_available(model_id: str) -> bool:
    """Whether `resolve_model_dir` would find or fetch the model, answered without downloading it."""
    if Path(model_id).expanduser().is_dir() or ((folder := models_dir()) and (folder / model_id).is_dir()):
        return True
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # without the `hf` extra there is no way to load it anyway
        return False
    try:
        snapshot_download(model_id, allow_patterns=_WEIGHT_PATTERNS, local_files_only=True)
        return True
    except Exception:  # not in the cache (or not a model id): only a reachable hub can provide it
        return not _offline() and _hub_reachable()


def resolve_model_dir(model_id: str) -> Path:
    """A local folder holding the model: a path, `$SIGHTLINE_MODELS/<id>`, the HF cache, or a download."""
    as_path = Path(model_id).expanduser()
    if as_path.is_dir():
        return as_path
    if (folder := models_dir()) and (folder / model_id).is_dir():
        return folder / model_id
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model_id, allow_patterns=_WEIGHT_PATTERNS, local_files_only=True))
    except HFValidationError:
        raise ModelNotFoundError(f"{model_id!r} is neither a folder nor a Hugging Face model id") from None
    except LocalEntryNotFoundError:
        pass
    if _offline():
        raise ModelNotFoundError(_missing_weights_message(model_id, "HF_HUB_OFFLINE is set"))
    if not _hub_reachable():
        raise ModelNotFoundError(_missing_weights_message(model_id, "the model hub cannot be reached"))
    log.info("downloading %s to the Hugging Face cache (once)", model_id)
    try:
        return Path(snapshot_download(model_id, allow_patterns=_WEIGHT_PATTERNS))
    except Exception as exc:  # network and hub errors come in many types; all mean "not available"
        raise ModelNotFoundError(_missing_weights_message(model_id, f"downloading failed ({exc})")) from None


def preprocess_from_hf(folder: Path) -> PreprocessSpec:
    """Read `preprocessor_config.json` directly: the processors would pull in torchvision for nothing."""
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        raise ModelConfigError(f"{folder} has no preprocessor_config.json")
    cfg = json.loads(path.read_text())
    size, crop = cfg.get("size", {}), cfg.get("crop_size")
    resample = _PIL_RESAMPLE.get(cfg.get("resample", 3), "bicubic")
    mean = tuple(cfg.get("image_mean", (0.5, 0.5, 0.5)))
    std = tuple(cfg.get("image_std", (0.5, 0.5, 0.5)))
    if cfg.get("do_center_crop") and crop:
        crop = crop if isinstance(crop, dict) else {"height": crop, "width": crop}
        short = size.get("shortest_edge", crop["height"]) if isinstance(size, dict) else size
        return PreprocessSpec(
            height=crop["height"], width=crop["width"], resize="center-crop", resample=resample,
            mean=mean, std=std, crop_fraction=min(1.0, crop["height"] / short),
        )  # fmt: skip
    height = size.get("height", size.get("shortest_edge", 224)) if isinstance(size, dict) else size
    width = size.get("width", height) if isinstance(size, dict) else size
    return PreprocessSpec(height=height, width=width, resize="stretch", resample=resample, mean=mean, std=std)


def _weights_signature(folder: Path) -> list[tuple[str, str]]:
    """Identifies the weight files' content cheaply, so two fine-tunes of one architecture never
    share embedding-cache entries, without hashing gigabytes at every start.

    In the Hugging Face cache a weight file is a link to a blob named by its content hash: use that
    name. Elsewhere hash the size and 16 evenly spaced 64 KB samples of the file.
    """
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    return [(path.name, _content_id(path)) for path in files]


def _content_id(path: Path, samples: int = 16, block: int = 1 << 16) -> str:
    target = path.resolve()
    if target != path.absolute() and target.parent.name == "blobs":
        return target.name
    size = target.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with target.open("rb") as handle:
        for i in range(samples):
            handle.seek(max(0, (size - block) * i // max(1, samples - 1)))
            h.update(handle.read(block))
    return h.hexdigest()


# --- the backbone -------------------------------------------------------------------------------------


def _pooled(output: Any) -> Any:
    """transformers 5 returns model outputs from get_*_features; older versions returned tensors."""
    return output if hasattr(output, "shape") else output.pooler_output


class HFBackbone(Backbone):
    """A transformers model; loads lazily so a cached ONNX export starts without importing torch."""

    def __init__(self, model_id: str, *, name: str | None = None, device: str = "auto"):
        self.model_id = model_id
        self.name = name or f"hf:{model_id}"
        self.folder = resolve_model_dir(model_id)
        config_path = self.folder / "config.json"
        if not config_path.is_file():
            raise ModelConfigError(f"{self.folder} has no config.json: not a transformers model folder")
        self.config = json.loads(config_path.read_text())
        self.model_type = self.config.get("model_type", "")
        self._preprocess = preprocess_from_hf(self.folder)
        self._fingerprint = digest("hf", self.config, self._preprocess, _weights_signature(self.folder))
        self.device = _pick_device(device)
        self.sigmoid_zero_shot = self.model_type.startswith("siglip")
        self._lock = threading.Lock()
        self._model: Any = None
        self._tower = ExportedTower(tower_path(self._fingerprint), lambda path: export_image_tower(self, path))
        self._tokenizer: Any = None
        self._zero_shot: tuple[float, float] | None = None
        self._text_cache = DiskEmbeddingCache(cache_dir() / "text")
        self._dim = int(self._projection_dim())

    def _projection_dim(self) -> int:
        if "projection_dim" in self.config:  # image-text models: the shared embedding space
            return self.config["projection_dim"]
        for tower in ("vision_config", "text_config"):
            if "hidden_size" in self.config.get(tower, {}):
                return self.config[tower]["hidden_size"]
        if "hidden_size" in self.config:
            return self.config["hidden_size"]
        raise ModelConfigError(f"cannot tell the embedding size of {self.model_id} from its config.json")

    # -- properties
    @property
    def preprocess(self) -> PreprocessSpec:
        return self._preprocess

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def has_text(self) -> bool:
        return "text_config" in self.config

    # -- torch model
    def torch_model(self) -> Any:
        """The transformers model (float32 on CPU, bf16 on CUDA), loaded once."""
        with self._lock:
            if self._model is None:
                import torch
                from transformers import AutoModel

                dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
                with quiet_libraries():
                    self._model = AutoModel.from_pretrained(self.folder, dtype=dtype).eval().to(self.device)
            return self._model

    # -- zero-shot logit parameters: learned weights, read once and remembered beside the caches
    @property
    def zero_shot_scale(self) -> float:  # type: ignore[override]
        return self._zero_shot_parameters()[0]

    @property
    def zero_shot_bias(self) -> float:  # type: ignore[override]
        return self._zero_shot_parameters()[1]

    def _zero_shot_parameters(self) -> tuple[float, float]:
        """(scale, bias) of the model's image-text logits, without loading torch when known already.

        They are weights of the model, so a process that runs on cached ONNX and cached text
        embeddings would otherwise never see them and fall back to wrong defaults.
        """
        if self._zero_shot is None:
            path = cache_dir() / "onnx" / self.fingerprint / "zero_shot.json"
            try:
                stored = json.loads(path.read_text())
                self._zero_shot = (float(stored["scale"]), float(stored["bias"]))
            except (OSError, ValueError, KeyError):
                model = self.torch_model()
                scale = float(model.logit_scale.detach().float().exp()) if hasattr(model, "logit_scale") else 100.0
                bias = getattr(model, "logit_bias", None)
                bias = float(bias.detach().float().reshape(-1)[0]) if bias is not None else 0.0
                self._zero_shot = (scale, bias)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"scale": scale, "bias": bias}))
                os.replace(tmp, path)
        return self._zero_shot

    def _torch_image_features(self, pixel_values: Any) -> Any:
        model = self.torch_model()
        if hasattr(model, "get_image_features"):
            return _pooled(model.get_image_features(pixel_values=pixel_values))
        return _pooled(model(pixel_values=pixel_values))

    # -- images
    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        if self.device == "cpu":
            session = self._onnx_session()
            if session is not None:
                return session.run(None, {"pixel_values": np.ascontiguousarray(pixels)})[0].astype(np.float32)
        import torch

        model = self.torch_model()
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(pixels)).to(self.device, dtype=model.dtype)
            return self._torch_image_features(x).float().cpu().numpy()

    def image_graph(self) -> onnx.ModelProto:
        """The image tower as exported for ONNX Runtime on CPU (exported now if it is not cached yet).

        On a GPU the tower runs in bf16 torch, so the graph comes from a float32 CPU copy of the model.
        """
        path = self._tower.path
        if not path.is_file():
            exporter = self if self.device == "cpu" else HFBackbone(str(self.folder), name=self.name, device="cpu")
            if not exporter._tower.ensure():
                raise ExportError(f"the image tower of {self.name} could not be exported to ONNX (see the log)")
        return require_onnx().load(str(path))  # with its external weights file, if the exporter wrote one

    def _onnx_session(self) -> Any:
        """ONNX Runtime session over the exported image tower; None when export is not possible."""
        return self._tower.session()

    # -- text
    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        if not self.has_text:
            raise ModelError(f"backbone {self.name!r} has no text tower; zero-shot needs an image-text model")
        fingerprint = f"{self.fingerprint}-text"
        keys = [digest("text", t) for t in texts]
        found = self._text_cache.get_many(fingerprint, keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            fresh = self._torch_text_features([texts[i] for i in missing])
            new = {keys[i]: fresh[row] for row, i in enumerate(missing)}
            self._text_cache.put_many(fingerprint, new)
            found.update(new)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def _tokenizer_for_text(self) -> Any:
        with self._lock:
            if self._tokenizer is None:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self.folder)
            return self._tokenizer

    def _torch_text_features(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import torch

        tokenizer = self._tokenizer_for_text()
        model = self.torch_model()
        max_length = self.config.get("text_config", {}).get("max_position_embeddings", 64)
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = texts[start : start + batch_size]
                if self.sigmoid_zero_shot:  # SigLIP was trained on max-length padding, without a mask
                    tokens = tokenizer(batch, padding="max_length", truncation=True, max_length=max_length,
                                       return_tensors="pt")  # fmt: skip
                    inputs = {"input_ids": tokens["input_ids"].to(self.device)}
                else:
                    tokens = tokenizer(batch, padding=True, truncation=True, max_length=max_length,
                                       return_tensors="pt")  # fmt: skip
                    inputs = {k: v.to(self.device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
                out.append(_pooled(model.get_text_features(**inputs)).float().cpu().numpy())
        return np.concatenate(out)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model_id": self.model_id, "device": self.device}


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    if configured := env_text("SIGHTLINE_DEVICE"):
        return configured
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


# --- ONNX export ---------------------------------------------------------------------------------------


def export_image_tower(backbone: HFBackbone, path: Path) -> bool:
    """Export the image tower through `export_tower` (dynamic batch, parity checked); False: use torch."""
    import torch

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = backbone.torch_model()

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return backbone._torch_image_features(pixel_values)

    spec = backbone.preprocess
    with quiet_libraries():
        return export_tower(ImageTower(), (3, spec.height, spec.width), path, name=backbone.name)
