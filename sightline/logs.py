"""How Sightline's processes log: readable lines by default, one JSON object per line on request.

`SIGHTLINE_LOG_JSON=1` turns `sightline serve`, `sightline worker` and every other command into JSON
logs (for Loki, CloudWatch, Elasticsearch ...): each line holds `time` (UTC, ISO 8601), `level`,
`logger`, `message`, `request_id` when the line was written while answering an HTTP request, and
`exception` (the traceback) when there is one. uvicorn's own lines (access log included) go through
the same handler, so they carry the request id too.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

from sightline.config import env_flag

#: The id of the HTTP request being answered (set by `sightline.api.request_ids`), None elsewhere.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("sightline_request_id", default=None)


def json_logs() -> bool:
    return env_flag("SIGHTLINE_LOG_JSON")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging() -> None:
    """The root handler of a Sightline command: WARNING and up from libraries, INFO and up from Sightline."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_logs() else logging.Formatter("%(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("sightline").setLevel(logging.INFO)
