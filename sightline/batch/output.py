"""Where a batch job's rows go: JSON Lines or Parquet, written so that a killed run can resume.

JSON Lines are appended and flushed batch by batch; a line cut short by a kill is dropped on resume.
Parquet cannot be appended to, so its rows are journaled to `<out>.partial.jsonl` and the Parquet
file is written (under a temporary name, then renamed) when the run completes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sightline.errors import InvalidRequestError

FORMATS = (".jsonl", ".parquet")


def _parquet_schema():
    import pyarrow as pa

    tag = pa.struct(
        [
            ("tag", pa.string()),
            ("probability", pa.float64()),
            ("above_threshold", pa.bool_()),
            ("threshold", pa.float64()),
        ]
    )
    number, text = pa.float64(), pa.string()
    reason = pa.struct(  # learn.decisions.Reason: a code and the numbers behind it
        [
            ("code", text),
            ("tag", text),
            ("probability", number),
            ("threshold", number),
            ("runner_up", text),
            ("runner_up_probability", number),
            ("margin", number),
            ("unknown_score", number),
            ("unknown_threshold", number),
        ]
    )
    error = pa.struct([("reason", pa.string()), ("message", pa.string())])
    return pa.schema(
        [
            ("path", pa.string()),
            ("tags", pa.list_(tag)),
            ("uncertain", pa.bool_()),
            ("reasons", pa.list_(reason)),
            ("unknown_score", pa.float64()),
            ("unknown", pa.bool_()),
            ("error", error),
        ]
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON Lines file; a torn last line (a kill mid-write) is cut off the file."""
    if not path.exists():
        return []
    data = path.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]
    if len(whole) != len(data):
        with path.open("r+b") as file:
            file.truncate(len(whole))
    return [json.loads(line) for line in whole.splitlines() if line.strip()]


class ResultWriter:
    """Appends result rows to `out`; `done` holds the paths it already has (with `resume`)."""

    def __init__(self, out: str | os.PathLike, *, resume: bool = False) -> None:
        self.out = Path(out)
        self.kind = self.out.suffix.lower()
        if self.kind not in FORMATS:
            raise InvalidRequestError(f"--out must end in .jsonl or .parquet, not {self.out.name!r}")
        self.journal = self.out if self.kind == ".jsonl" else self.out.with_name(self.out.name + ".partial.jsonl")
        if not resume and (self.out.exists() or self.journal.exists()):
            raise InvalidRequestError(f"{self.out} exists: pass --resume to continue it, or remove it")
        self.previous: list[dict[str, Any]] = []
        if resume and self.kind == ".parquet" and self.out.exists():
            import pyarrow.parquet as pq

            self.previous = pq.read_table(self.out).to_pylist()
        self.done: set[str] = {row["path"] for row in self.previous}
        self.done |= {row["path"] for row in _read_jsonl(self.journal)}
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.journal.open("a", encoding="utf-8")

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        self._file.write(lines)
        self._file.flush()

    def close(self, *, complete: bool = True) -> None:
        """Close the journal; for Parquet, once complete, write the file and drop the journal."""
        self._file.close()
        if self.kind != ".parquet" or not complete:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = self.previous + _read_jsonl(self.journal)
        temporary = self.out.with_name(f".{self.out.name}.tmp")
        pq.write_table(pa.Table.from_pylist(rows, schema=_parquet_schema()), temporary)
        temporary.replace(self.out)
        self.journal.unlink()


def read_results(out: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a finished (or, for JSON Lines, partial) output file."""
    path = Path(out)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
