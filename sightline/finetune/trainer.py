"""LP-FT: a linear probe on the frozen network, then the whole network fine-tuned from it.

Kumar et al. (2022) showed that fine-tuning from a fitted linear probe distorts pretrained features
less than fine-tuning from a random head, which matters most with few images. Here:

1. Decode each image once (a little larger than the input), and split off a validation fold that keeps
   declared groups and near-duplicates together (`learn.crossval`, as cross-validation does).
2. Fit the probe on the frozen network's features of the training part (full-batch L-BFGS).
3. Fine-tune every weight with augmented views (AdamW, cosine decay, BatchNorm statistics frozen:
   batches of 16 estimate them worse than ImageNet did), scoring the validation fold after each epoch.
   Keep the epoch with the lowest validation log-loss; stop after `patience` epochs without one, at
   `max_epochs`, or when the time budget runs out. The frozen probe is epoch 0, so when no epoch beats
   it the network is left as it was.

`progress("fine_tuning", epoch, max_epochs)` is called between batches: a callback that raises (the
service's cancel check does) stops training within one batch.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sightline.backbones import Backbone, l2_normalize
from sightline.backbones.lite import LiteBackbone, load_network
from sightline.backbones.runtime import cpu_threads
from sightline.backbones.tuned import LiteArchitecture, TunedLiteBackbone, weights_to_bytes
from sightline.config import ImageLimits
from sightline.errors import CannotFineTuneError, ImageError, TrainingError
from sightline.finetune.augment import Augmentation, augmented_views, decode_images, plain_views
from sightline.finetune.options import EpochRecord, FineTuneOptions, FineTuneSummary
from sightline.imaging import ImageSource
from sightline.learn.crossval import assign_folds, find_groups, split_single_group_tags

Progress = Callable[[str, int, int], None]
PHASE = "fine_tuning"
_PROBE_L2 = 1e-3  # the probe's weight penalty (on centred, unit-length features)


@dataclass
class FineTuneResult:
    """The backbone to embed with from now on (the input one when fine-tuning did not help), what
    happened, images that could not be used, and the validation fold (indices into the input)."""

    backbone: Backbone
    summary: FineTuneSummary
    failures: list[tuple[int, ImageError]]
    validation: list[int]


def trainable_network(backbone: Backbone, resolution: int | None) -> tuple[nn.Module, LiteArchitecture]:
    """The backbone's float32 torch network rebuilt for `resolution`, or CannotFineTuneError."""
    if isinstance(backbone, LiteBackbone):
        variant = backbone.variant
        source = load_network(variant)
        architecture = LiteArchitecture(variant.width, variant.depth, resolution or variant.resolution, variant.spec)
    elif isinstance(backbone, TunedLiteBackbone):
        source = backbone.build_network()
        base = backbone.architecture
        architecture = LiteArchitecture(base.width, base.depth, resolution or base.resolution, base.base)
    else:
        raise CannotFineTuneError(
            f"backbone {backbone.name!r} cannot be fine-tuned: Advanced training adapts the weights of "
            "EfficientNet-Lite backbones (efficientnet-lite0/1/2), and ONNX files and other models are used "
            "as they are. Train Regular, or use a project on efficientnet-lite0."
        )
    if architecture.resolution % 32:
        raise CannotFineTuneError(f"fine-tuning resolution must be a multiple of 32, not {architecture.resolution}")
    network = architecture.build()
    features = {k: v for k, v in source.state_dict().items() if not k.startswith("_fc.")}  # ImageNet's layer
    network.load_state_dict(features, strict=False)
    return network.float(), architecture


class _ProbeNet(nn.Module):
    """features -> unit length -> centred -> linear: the head the probe fits and fine-tuning continues."""

    def __init__(self, network: nn.Module, centre: torch.Tensor, n_out: int):
        super().__init__()
        self.network = network
        self.register_buffer("centre", centre)
        self.head = nn.Linear(centre.numel(), n_out)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.network.features(x).float(), dim=1) - self.centre

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def fine_tune(
    backbone: Backbone,
    images: Sequence[ImageSource],
    Y: np.ndarray,
    *,
    multilabel: bool,
    options: FineTuneOptions | None = None,
    groups: Sequence[object] | None = None,
    progress: Progress | None = None,
    limits: ImageLimits | None = None,
    reference: np.ndarray | None = None,
) -> FineTuneResult:
    """Fine-tune `backbone` on labelled images (Y: Multiclass (n,) indices, Multilabel (n, k) 0/1).

    `reference`: (n, d) the frozen backbone's own embeddings of the images (NaN rows for unusable ones),
    as regular training would use them (its resolution, its ONNX graph). The fine-tuned network must beat
    a probe on them, not only a probe at the fine-tuning resolution, to replace the backbone.
    """
    options = options or FineTuneOptions()
    network, architecture = trainable_network(backbone, options.resolution)
    threads = torch.get_num_threads()
    torch.set_num_threads(cpu_threads())  # torch's default oversubscribes a shared CPU badly (10x slower)
    try:
        return _fine_tune(network, architecture, backbone, images, Y, multilabel=multilabel, options=options,
                          groups=groups, progress=progress, limits=limits, reference=reference)  # fmt: skip
    finally:
        torch.set_num_threads(threads)


def _fine_tune(
    network: nn.Module,
    architecture: LiteArchitecture,
    backbone: Backbone,
    images: Sequence[ImageSource],
    Y: np.ndarray,
    *,
    multilabel: bool,
    options: FineTuneOptions,
    groups: Sequence[object] | None,
    progress: Progress | None,
    limits: ImageLimits | None,
    reference: np.ndarray | None,
) -> FineTuneResult:
    started = time.perf_counter()
    report = progress or (lambda phase, done, total: None)
    report(PHASE, 0, options.max_epochs)
    pixels, ok, failures = decode_images(images, architecture.resolution, limits)
    Y = np.asarray(Y)[ok]
    device = _device(options.device)
    spec = architecture.preprocess
    network = network.to(device).eval()
    frozen = _features(network, pixels, spec, device, options.batch_size, lambda: report(PHASE, 0, options.max_epochs))
    declared = None if groups is None else [groups[i] for i in ok]
    val = _validation_fold(frozen, Y, declared, multilabel=multilabel, random_state=options.random_state)
    train = ~val
    if not train.any() or not val.any():
        raise TrainingError("too few images to keep a validation fold apart for fine-tuning")
    n_out = Y.shape[1] if multilabel else int(Y.max()) + 1
    targets = torch.as_tensor(Y, dtype=torch.float32 if multilabel else torch.long)
    loss_fn = nn.BCEWithLogitsLoss() if multilabel else nn.CrossEntropyLoss()

    unit = l2_normalize(frozen)
    centre = torch.from_numpy(unit[train].mean(axis=0))
    model = _ProbeNet(network, centre, n_out).to(device)
    _fit_probe(model.head, torch.from_numpy(unit[train]).to(device) - model.centre, targets[train].to(device), loss_fn)
    with torch.no_grad():
        val_logits = model.head(torch.from_numpy(unit[val]).to(device) - model.centre).float().cpu()
    frozen_loss, frozen_acc = _score(val_logits, targets[val], loss_fn, multilabel=multilabel)
    if reference is not None and np.isfinite(reference[ok]).all():  # the frozen backbone as regular training uses it
        native_loss, native_acc = _probe_score(
            reference[ok], targets, train, val, loss_fn, n_out, multilabel=multilabel
        )
        frozen_loss, frozen_acc = min(frozen_loss, native_loss), max(frozen_acc, native_acc)  # the higher bar
    history = [EpochRecord(0, None, frozen_loss, frozen_acc, time.perf_counter() - started)]
    best_loss, best_epoch, best_state = frozen_loss, 0, None

    optimizer = torch.optim.AdamW(
        [{"params": model.network.parameters(), "lr": options.backbone_lr},
         {"params": model.head.parameters(), "lr": options.head_lr}],
        weight_decay=options.weight_decay,
    )  # fmt: skip
    train_idx = np.flatnonzero(train)
    steps_per_epoch = math.ceil(len(train_idx) / options.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=options.max_epochs * steps_per_epoch)
    generator = np.random.default_rng(options.random_state)
    torch.manual_seed(options.random_state)
    augmentation = Augmentation(flips=options.flips)
    deadline = None if options.budget_seconds is None else started + options.budget_seconds
    stopped_by, epoch = "max epochs", 0
    for epoch in range(1, options.max_epochs + 1):
        epoch_start = time.perf_counter()
        _train_mode(model)
        losses = []
        out_of_time = False
        order = generator.permutation(train_idx)
        for start in range(0, len(order), options.batch_size):
            chosen = order[start : start + options.batch_size]
            x = augmented_views(pixels[chosen], spec, augmentation, generator, device)
            with _autocast(device):
                loss = loss_fn(model(x).float(), targets[chosen].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            report(PHASE, epoch - 1, options.max_epochs)  # raises when the job was cancelled
            if deadline is not None and time.perf_counter() > deadline:
                out_of_time = True
                break
        if out_of_time:
            stopped_by, epoch = "budget", epoch - 1
            break
        model.eval()
        tick = functools.partial(report, PHASE, epoch - 1, options.max_epochs)
        val_logits = _logits(model, pixels[val], spec, device, options.batch_size, tick)
        val_loss, val_acc = _score(val_logits, targets[val], loss_fn, multilabel=multilabel)
        history.append(EpochRecord(epoch, float(np.mean(losses)), val_loss, val_acc, time.perf_counter() - epoch_start))
        report(PHASE, epoch, options.max_epochs)
        if val_loss < best_loss - 1e-4 and val_acc >= frozen_acc:  # better, and no fewer right answers
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.network.state_dict().items()})
        elif epoch - best_epoch >= options.patience:
            stopped_by = "early stopping"
            break
        if deadline is not None and time.perf_counter() > deadline:
            stopped_by = "budget"
            break

    if best_state is None:
        tuned: Backbone = backbone
    else:
        tuned = TunedLiteBackbone(architecture, weights_to_bytes(best_state))
    best = history[[h.epoch for h in history].index(best_epoch)]
    summary = FineTuneSummary(
        base=architecture.base, resolution=architecture.resolution, device=device,
        train_images=int(train.sum()), validation_images=int(val.sum()),
        frozen_val_accuracy=frozen_acc, frozen_val_loss=frozen_loss,
        tuned_val_accuracy=best.val_accuracy, tuned_val_loss=best.val_loss,
        best_epoch=best_epoch, epochs_run=epoch, stopped_by=stopped_by,
        seconds=time.perf_counter() - started, history=history,
    )  # fmt: skip
    return FineTuneResult(tuned, summary, failures, [ok[i] for i in np.flatnonzero(val)])


def _device(choice: str) -> str:
    if choice != "auto":
        return choice
    return "cuda" if torch.cuda.is_available() else "cpu"


def _autocast(device: str):
    """bf16 autocast on CUDA (no loss scaling needed, unlike fp16); plain float32 on CPU."""
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device == "cuda" else _nothing()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _train_mode(model: nn.Module) -> None:
    """Train mode with every BatchNorm kept on its pretrained statistics (its scale and shift still learn)."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()


def _batches(n: int, size: int):
    return (slice(i, min(n, i + size)) for i in range(0, n, size))


@torch.no_grad()
def _features(
    network: nn.Module, pixels: np.ndarray, spec, device: str, batch: int, tick: Callable[[], None]
) -> np.ndarray:
    out = []
    for part in _batches(len(pixels), batch):
        with _autocast(device):
            out.append(network.features(plain_views(pixels[part], spec, device)).float().cpu().numpy())
        tick()  # the cancel check
    return np.concatenate(out) if out else np.zeros((0, 1280), dtype=np.float32)


@torch.no_grad()
def _logits(
    model: _ProbeNet, pixels: np.ndarray, spec, device: str, batch: int, tick: Callable[[], None]
) -> torch.Tensor:
    out = []
    for part in _batches(len(pixels), batch):
        with _autocast(device):
            out.append(model(plain_views(pixels[part], spec, device)).float().cpu())
        tick()  # the cancel check
    return torch.cat(out)


def _validation_fold(
    features: np.ndarray, Y: np.ndarray, declared: Sequence[object] | None, *, multilabel: bool, random_state: int
) -> np.ndarray:
    """One fold of the group-aware stratified split cross-validation uses: declared groups and near-duplicates
    stay on one side, so the validation score is a score on new items."""
    found = find_groups(l2_normalize(features), declared)
    found, _ = split_single_group_tags(Y, found, multilabel=multilabel)
    folds = assign_folds(Y, multilabel=multilabel, random_state=random_state, groups=found.labels)
    return folds == 0


def _fit_probe(head: nn.Linear, X: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module) -> None:
    """The linear probe: penalised logistic regression by full-batch L-BFGS."""
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    optimizer = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(head(X), y) + _PROBE_L2 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)


def _probe_score(
    features: np.ndarray, targets: torch.Tensor, train: np.ndarray, val: np.ndarray, loss_fn: nn.Module,
    n_out: int, *, multilabel: bool,
) -> tuple[float, float]:  # fmt: skip
    """(val log-loss, val accuracy) of a linear probe fitted on the training rows of `features`."""
    unit = torch.from_numpy(l2_normalize(features))
    centred = unit - unit[torch.from_numpy(train)].mean(dim=0)
    head = nn.Linear(unit.shape[1], n_out)
    _fit_probe(head, centred[torch.from_numpy(train)], targets[torch.from_numpy(train)], loss_fn)
    with torch.no_grad():
        return _score(
            head(centred[torch.from_numpy(val)]), targets[torch.from_numpy(val)], loss_fn, multilabel=multilabel
        )


def _score(logits: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module, *, multilabel: bool) -> tuple[float, float]:
    """(log-loss, accuracy): Multiclass top-1; Multilabel the share of (image, tag) decisions right at 0.5."""
    loss = float(loss_fn(logits, y))
    if multilabel:
        return loss, float(((logits > 0).float() == y).float().mean())
    return loss, float((logits.argmax(dim=1) == y).float().mean())
