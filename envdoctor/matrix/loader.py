"""Loading matrices/*.yaml: find them, validate them against the schema, cache the result.

Where the files come from, first match wins:
  1. ENVDOCTOR_MATRIX_DIR (a user's updated matrix, or a test's)
  2. the installed package (envdoctor/matrices, also inside the zipapp, read with pkgutil)
  3. the source checkout's top-level matrices/
Parsing YAML costs more than the rest of a check, so the validated data is cached as JSON keyed by
a hash of the file contents.
"""

from __future__ import annotations

import hashlib
import os
import pkgutil
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import envdoctor
from envdoctor.errors import MatrixError
from envdoctor.fileio.jsoncache import JsonCache
from envdoctor.fileio.paths import cache_dir
from envdoctor.fileio.safeio import UnsafePathError, read_capped
from envdoctor.matrix.verification import enforce
from envdoctor.matrix.views import Matrix

SCHEMA_NAME = "schema.yaml"
# Files a user's matrix folder may leave out: envdoctor's own copy stands in (the schema is always
# ours; binaries.yaml came later than the other files, and older matrix folders lack it).
_BUILTIN_FALLBACK = (SCHEMA_NAME, "binaries.yaml")
ENV_MATRIX_DIR = "ENVDOCTOR_MATRIX_DIR"
MAX_MATRIX_FILE_BYTES = 16 * 1024 * 1024
_CHECKOUT_DIR = Path(__file__).resolve().parent.parent.parent / "matrices"


def _read_dir(directory: Path) -> Dict[str, str]:
    texts = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            # A FIFO or device named *.yaml must neither block nor fill memory.
            texts[path.name] = read_capped(str(path), MAX_MATRIX_FILE_BYTES).decode("utf-8")
        except UnsafePathError as exc:
            raise MatrixError("error.matrix_unreadable", file=str(path), detail=exc.reason) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise MatrixError("error.matrix_unreadable", file=str(path), detail=str(exc)) from exc
    return texts


def _read_package() -> Optional[Dict[str, str]]:
    """The matrices shipped inside the package: a folder in a wheel install, zip members in the zipapp."""
    folder = Path(__file__).resolve().parent.parent / "matrices"
    if folder.is_dir():
        return _read_dir(folder)
    archive = getattr(getattr(envdoctor, "__loader__", None), "archive", None)  # set by zipimport
    if not archive:
        return None
    import zipfile  # start-up: only the zipapp reads its matrices from its own archive

    prefix = getattr(envdoctor.__loader__, "prefix", "") + "envdoctor/matrices/"
    with zipfile.ZipFile(archive) as bundle:
        return {
            member[len(prefix):]: bundle.read(member).decode("utf-8")
            for member in bundle.namelist()
            if member.startswith(prefix) and member.endswith(".yaml") and "/" not in member[len(prefix):]
        } or None


def read_matrix_texts(directory: Optional[str] = None) -> Tuple[str, Dict[str, str]]:
    """(where, {filename: text}) of the matrix files to use."""
    chosen = directory or os.environ.get(ENV_MATRIX_DIR)
    if chosen:
        path = Path(chosen)
        if not path.is_dir():
            raise MatrixError("error.matrix_dir_missing", file=str(path))
        texts = _read_dir(path)
        for name in _BUILTIN_FALLBACK:
            if name not in texts:
                texts[name] = _builtin_file(name)
        return str(path), texts
    packaged = _read_package()
    if packaged:
        return "envdoctor/matrices", packaged
    if _CHECKOUT_DIR.is_dir():
        return str(_CHECKOUT_DIR), _read_dir(_CHECKOUT_DIR)
    raise MatrixError("error.matrix_dir_missing", file=str(_CHECKOUT_DIR))


def _builtin_file(name: str) -> str:
    try:
        packaged = pkgutil.get_data("envdoctor", f"matrices/{name}")
    except OSError:
        packaged = None
    if packaged is not None:
        return packaged.decode("utf-8")
    return (_CHECKOUT_DIR / name).read_text(encoding="utf-8")


def _record_checker(where: str):
    """How to tell whether a measurement's recorded output is kept with the matrix (None: cannot tell)."""
    base = Path(where)
    if where == "envdoctor/matrices":  # packaged: a folder next to the package, or zip members
        base = Path(__file__).resolve().parent.parent / "matrices"
    if not base.is_dir():
        return None
    return lambda record: (base / record).is_file()


def validate_texts(where: str, texts: Dict[str, str], check_records: bool = True) -> Dict[str, dict]:
    """Parse and validate every file; the first problem raises MatrixError naming file, line, field.

    Besides the schema, every `verified: true` must rest on a primary source or a kept measurement.
    """
    # Start-up: a cached matrix is never parsed again, so yaml and the schema load only on a cache miss.
    import yaml

    from envdoctor.matrix.schema import SchemaViolation, Validator, file_schema, load_with_lines

    # The maintainer's verify tool loads the matrix before the records it is about to write exist.
    record_exists = _record_checker(where) if check_records else None

    try:
        schema_root = load_with_lines(texts[SCHEMA_NAME])
        if not isinstance(schema_root, dict) or not isinstance(schema_root.get("files", {}), dict):
            raise ValueError("the schema is not a mapping with a 'files' mapping")
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise MatrixError("error.matrix_invalid", file=os.path.join(where, SCHEMA_NAME), line=0, field="-",
                          detail=str(exc)[:300]) from exc
    validator = Validator(schema_root)
    data: Dict[str, dict] = {}
    optional = set(schema_root.get("optional_files", []))
    missing: List[str] = [name for name in schema_root.get("files", {}) if name not in texts and name not in optional]
    if missing:
        raise MatrixError("error.matrix_file_missing", file=os.path.join(where, missing[0]))
    for name, text in texts.items():
        if name == SCHEMA_NAME:
            continue
        display = os.path.join(where, name)
        schema = file_schema(schema_root, name)
        if schema is None:
            raise MatrixError("error.matrix_unknown_file", file=display)
        try:
            document = load_with_lines(text)
        except RecursionError as exc:
            raise MatrixError("error.matrix_invalid", file=display, line=0, field="-",
                              detail="nested too deeply") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            problem = getattr(exc, "problem", None) or str(exc)
            raise MatrixError("error.matrix_invalid", file=display, line=line, field="-", detail=problem) from exc
        try:
            validator.validate(document, schema)
            enforce(document, record_exists)
        except SchemaViolation as exc:
            raise MatrixError(
                "error.matrix_invalid", file=display, line=exc.line, field=exc.path or "<top>", detail=exc.message
            ) from exc
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError, re.error) as exc:
            # The schema itself is damaged (a user's matrix folder may carry its own schema.yaml).
            raise MatrixError("error.matrix_invalid", file=os.path.join(where, SCHEMA_NAME), line=0, field="-",
                              detail=f"{type(exc).__name__}: {exc}"[:300]) from exc
        data[name] = _plain(document)
    return data


def _plain(value):
    """LineDict/LineList -> dict/list, so the data caches as JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


_USER_CACHE = JsonCache  # sentinel: "the user's cache folder" (None: no cache at all)


def load_matrix(directory: Optional[str] = None, cache: Any = _USER_CACHE) -> Matrix:
    """The validated matrix; by default the parsed result is cached in envdoctor's cache folder."""
    if cache is _USER_CACHE:
        cache = JsonCache(cache_dir(), "matrix")
    where, texts = read_matrix_texts(directory)
    digest = hashlib.sha256()
    for name in sorted(texts):
        digest.update(name.encode() + b"\0" + texts[name].encode("utf-8") + b"\0")
    # Which measurement records exist is part of what was validated (verified rows need theirs).
    records = Path(where) / "measurements"
    if records.is_dir():
        digest.update("\0".join(sorted(p.name for p in records.glob("*.json"))).encode("utf-8"))
    key = "matrix:" + digest.hexdigest()
    data = cache.get(key) if cache else None
    if not isinstance(data, dict):
        data = validate_texts(where, texts)
        if cache:
            cache.put(key, data)
    try:
        return Matrix.from_data(data, where)
    except (KeyError, TypeError, ValueError) as exc:
        raise MatrixError("error.matrix_invalid", file=where, line=0, field="-", detail=str(exc)) from exc
