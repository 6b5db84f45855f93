"""Prometheus metrics (prometheus-client): one registry per process, filled by the layers that know.

The HTTP layer counts requests and their latency; the prediction batcher its batch sizes and queue
depth; training its durations; predictions the uncertain and unknown answers per project (divide by
`sightline_predictions_total` for the rates). `GET /metrics` serves `render()`.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "sightline_http_requests_total",
    "HTTP requests by route and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "sightline_http_request_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "sightline_prediction_batch_size",
    "Images per model call of the prediction batcher",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("sightline_prediction_queue_depth", "Predictions waiting for the model", registry=REGISTRY)
TRAINING_SECONDS = Histogram(
    "sightline_training_seconds",
    "Duration of training jobs by outcome",
    ["outcome"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
    registry=REGISTRY,
)
PREDICTIONS = Counter("sightline_predictions_total", "Images predicted, by project", ["project"], registry=REGISTRY)
UNCERTAIN = Counter(
    "sightline_predictions_uncertain_total",
    "Predictions a person should check, by project",
    ["project"],
    registry=REGISTRY,
)
UNKNOWN = Counter(
    "sightline_predictions_unknown_total",
    "Images unlike the training images, by project",
    ["project"],
    registry=REGISTRY,
)


def count_prediction(project_id: str, *, uncertain: bool, unknown: bool) -> None:
    PREDICTIONS.labels(project_id).inc()
    if uncertain:
        UNCERTAIN.labels(project_id).inc()
    if unknown:
        UNKNOWN.labels(project_id).inc()


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
