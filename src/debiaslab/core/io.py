"""Plain, typed artifacts written atomically.

Every artifact is written to a temporary sibling and renamed into place, so a job
that dies mid-write never leaves a half file that Snakemake (or a reader) would
mistake for a finished one. Readers name the file (and row) when input is bad.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """Bad input data; the message names the file and, where there is one, the row."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if directory:
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        else:
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, obj: Any) -> None:
    """Deterministic JSON: sorted keys, fixed indentation, trailing newline."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default) + "\n")


def _json_default(obj):
    # numpy scalars and arrays appear in metric dicts; write them as plain numbers.
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def line_of(data: bytes, offset: int) -> int:
    """The 1-based line (row of a JSON Lines file) that byte `offset` of `data` is on."""
    return data.count(b"\n", 0, offset) + 1


def read_json(path) -> Any:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 (byte {e.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None


def read_jsonl(path) -> list[dict]:
    path = Path(path)
    rows = []
    try:
        lines = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            rows.append(json.loads(raw.decode("utf-8")))
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: row {i}: not UTF-8 (byte {e.start})") from None
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: row {i}: malformed JSON: {e.msg}") from None
        if not isinstance(rows[-1], dict):
            raise DataError(f"{path}: row {i}: expected a JSON object, got {type(rows[-1]).__name__}")
    return rows


def write_parquet(path, frame) -> None:
    """Write a DataFrame as Parquet without the pandas index (byte-stable across runs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_parquet(path, columns: Iterable[str] | None = None, *, required: Iterable[str] = ()):
    """Read a Parquet table; fail naming the file when it is missing, unreadable or lacks columns."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    try:
        frame = pd.read_parquet(path, columns=list(columns) if columns else None)
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: not a readable Parquet file ({e})") from None
    require_columns(frame, required, path)
    return frame


def require_columns(frame, required: Iterable[str], where) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {missing}; found {list(frame.columns)}")


def keep_values(frame, column: str, values: Iterable[str] | None, where):
    """The rows whose `column` is one of `values` (all rows for None); a value no row has fails, naming it."""
    if not values:
        return frame
    unknown = sorted(set(values) - set(frame[column]))
    if unknown:
        raise DataError(f"{where}: no row with {column} {unknown}; found {sorted(set(frame[column]))}")
    return frame[frame[column].isin(list(values))]


def _is_conversation(value) -> bool:
    """A chat as TRL takes it: a list of {role, content} messages whose role and content are text."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__") or len(value) == 0:
        return False
    return all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value
    )


def require_text(frame, columns: Iterable[str], where, *, conversations: bool = False) -> None:
    """Fail naming the first row whose value in a text column is not a string (a number, a list, a null);
    with `conversations`, a list of {role, content} text messages is text too."""
    for column in columns:
        bad = [
            i
            for i, value in enumerate(frame[column])
            if not (isinstance(value, str) or (conversations and _is_conversation(value)))
        ]
        if bad:
            value = frame[column].iloc[bad[0]]
            null = value is None or (isinstance(value, float) and value != value)  # pandas reads a JSON null as NaN
            raise DataError(
                f"{where}: row {bad[0] + 1}: column {column!r} must be text, got "
                f"{'null' if null else f'{type(value).__name__} {value!r}'} ({len(bad)} such row(s))"
            )


def read_table(path, *, required: Iterable[str] = (), text: Iterable[str] = ()):
    """Read a record table by extension: .parquet, .jsonl, .json (list of objects), .csv, .tsv.

    `required` columns must exist; `text` columns must also hold a string in every row.
    """
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    required = list(dict.fromkeys([*required, *text]))
    if suffix == ".parquet":
        frame = read_parquet(path, required=required)
        if frame.empty:
            raise DataError(f"{path}: no rows")
        require_text(frame, text, path)
        return frame
    if suffix == ".jsonl":
        frame = pd.DataFrame(read_jsonl(path))
    elif suffix == ".json":
        obj = read_json(path)
        if not isinstance(obj, list):
            raise DataError(f"{path}: expected a JSON list of records, got {type(obj).__name__}")
        for i, row in enumerate(obj):
            if not isinstance(row, dict):
                raise DataError(f"{path}: row {i}: expected a JSON object, got {type(row).__name__}")
        frame = pd.DataFrame(obj)
    elif suffix in (".csv", ".tsv"):
        if not path.exists():
            raise DataError(f"{path}: file not found")
        try:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", encoding="utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 (byte {e.start})") from None
    else:
        raise DataError(f"{path}: unsupported table format {suffix!r} (use .parquet, .jsonl, .json, .csv or .tsv)")
    if frame.empty:
        raise DataError(f"{path}: no rows")
    require_columns(frame, required, path)
    require_text(frame, text, path)
    return frame


def locate_file(source: dict[str, Any], where: str = "gguf") -> Path:
    """The file a config entry names (a model's GGUF checkpoint): `{"file": path}` or
    `{"package": name, "file": name inside it}`, a file shipped inside an installed Python package.

    The package is found by `importlib.util.find_spec`, without importing it (a package that ships a
    checkpoint may import plugins the workflow does not have)."""
    file, package = source.get("file"), source.get("package")
    if not file:
        raise DataError(f"{where}.file: missing; give the .gguf file (with `package`: its name inside the package)")
    if package:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError) as e:  # a dotted name whose parent is missing or broken
            spec, error = None, e
        else:
            error = None
        if spec is None:
            reason = f" ({type(error).__name__}: {error})" if error else ""
            raise DataError(
                f"{where}.package: Python package {package!r} is not installed{reason}; install it "
                f"first (e.g. `pip install --no-deps <its distribution>`)"
            )
        if not spec.submodule_search_locations:
            raise DataError(f"{where}.package: {package!r} is a module, not a package folder that can ship a file")
        folders = [Path(p) for p in spec.submodule_search_locations]
        for folder in folders:
            if (folder / file).is_file():
                return (folder / file).resolve()
        found = sorted(p.name for f in folders if f.is_dir() for p in f.iterdir() if p.suffix == ".gguf")
        raise DataError(
            f"{where}.file: {file!r} is not in package {package!r} ({', '.join(map(str, folders))}); "
            f"GGUF files there: {', '.join(found) or '(none)'}"
        )
    path = Path(file).expanduser()
    if not path.is_file():
        raise DataError(
            f"{where}.file: {str(path)!r} does not exist" + (" (a folder, not a file)" if path.is_dir() else "")
        )
    return path.resolve()
