"""JSON and JSON-lines files, written atomically (a temp file renamed into place)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any


def _atomic_write(path: str | Path, text_chunks: Iterable[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for chunk in text_chunks:
            f.write(chunk)
    tmp.replace(path)
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON."""
    return _atomic_write(path, [json.dumps(obj, indent=1, ensure_ascii=False) + "\n"])


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_jsonl(path: str | Path, objs: Iterable[Any]) -> Path:
    """Write one JSON object per line."""
    return _atomic_write(path, (json.dumps(obj, ensure_ascii=False) + "\n" for obj in objs))


def read_jsonl(path: str | Path) -> Iterator[Any]:
    """Objects of a JSON-lines file; a bad line raises naming the file and line number."""
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc


def read_columns(columns: Mapping[str, Sequence[Sequence[str | Path]]]) -> dict[str, list[list[Any]]]:
    """Read the JSON files of a table's ``columns`` (label -> one list of files per seed, e.g. score files)."""
    return {label: [[read_json(path) for path in files] for files in runs] for label, runs in columns.items()}
