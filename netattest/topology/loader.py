"""Load a topology file into the frozen model, or say exactly what is wrong and how to fix it.

Three layers, each failing with a :class:`TopologyError` that names file, line, field and a fix:

1. bytes -> text -> YAML node tree -> plain data and a map from field path to line (:mod:`.yaml_reader`);
2. the JSON Schema in :mod:`.schema`, its errors worded in the user's terms (:mod:`.schema_errors`);
3. semantic checks in Python while the model is built: addresses, references, duplicates, node selection
   (:mod:`.build` and its sections; the lab's faults in :mod:`.lab_spec`).

Field paths are index based (``pods[2].networks[0].ips[0]``) because an index always exists, even when the
name is missing or invalid; problem texts name the objects (``pod multus-test/pod-a``) for humans.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from ..errors import TopologyError
from .build import TopologyBuilder
from .model import Topology
from .schema_errors import check_schema
from .wording import FILE_FIELD, _oneline, format_path, make_error
from .yaml_reader import MAX_TOPOLOGY_BYTES, encode_text, read_document, read_file

__all__ = ["MAX_TOPOLOGY_BYTES", "format_path", "load_topology", "load_topology_text"]


def load_topology(path: str | os.PathLike[str]) -> Topology:
    """Load and validate a topology file; every failure is a :class:`TopologyError`."""
    try:
        source = os.fspath(path)
    except TypeError:
        raise make_error(str(path), None, FILE_FIELD, f"not a file path: {path!r}", "pass a str or Path") from None
    return _guarded(lambda: _from_bytes(read_file(source), source), source)


def load_topology_text(text: str, source: str = "<string>") -> Topology:
    """Load a topology from text (tests, stdin); ``source`` is only used in messages."""
    return _guarded(lambda: _from_bytes(encode_text(text, source), source), source)


def _guarded(load: Any, source: str) -> Topology:
    """Run a load; a bug in the loader still surfaces as one paragraph (the cause stays in ``__cause__``)."""
    try:
        return load()
    except TopologyError:
        raise
    except RecursionError as exc:
        raise make_error(source, None, FILE_FIELD, "the document is nested too deeply", "flatten it") from exc
    except Exception as exc:  # the contract: callers only ever see TopologyError
        problem = f"internal error in the topology loader ({type(exc).__name__}: {_oneline(str(exc))})"
        raise make_error(source, None, FILE_FIELD, problem, "report this netattest bug with the file") from exc


def _from_bytes(raw: bytes, source: str) -> Topology:
    data, lines, texts = read_document(raw, source)
    check_schema(data, lines, texts, source)
    return TopologyBuilder(source, data, lines).build(hashlib.sha256(raw).hexdigest())
