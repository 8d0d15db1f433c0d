"""Bytes -> text -> YAML nodes -> plain data with the line of every field: the loader's first two layers.

Hostile input never gets further than it must: a size cap read without reading it all, UTF-8 only, NUL bytes
refused, ``SafeLoader`` composition with aliases refused ("billion laughs"), nesting capped, duplicate keys (which
PyYAML would silently keep the last of) refused, and only plain scalar tags.
"""

from __future__ import annotations

import os
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ..errors import TopologyError
from .schema import API_VERSION
from .shipped import shipped_names
from .wording import FILE_FIELD, Path, _describe, _oneline, _q, make_error

MAX_TOPOLOGY_BYTES = 1 * 1024 * 1024
#: Deepest nesting a topology needs is about 6; anything far beyond is an accident or an attack.
MAX_DEPTH = 32

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}


def _fail_file(source: str, problem: str, fix: str, line: int | None = None) -> NoReturn:
    raise make_error(source, line, FILE_FIELD, problem, fix)


def read_file(source: str) -> bytes:
    """Read at most one byte past the cap, so a huge (or endless) file is refused without reading it all."""
    try:
        with open(source, "rb") as handle:
            raw = handle.read(MAX_TOPOLOGY_BYTES + 1)
    except FileNotFoundError:
        _fail_file(source, "the file does not exist", f"check the path (relative to {os.getcwd()}), or name a "
                   f"shipped topology: {', '.join(shipped_names())} ('netattest topologies' describes them)")
    except IsADirectoryError:
        _fail_file(source, "this is a directory, not a file", "name a topology .yaml file")
    except PermissionError:
        _fail_file(source, "the file cannot be read (permission denied)", "make it readable for this user")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        _fail_file(source, f"the file cannot be read ({_oneline(reason)})", "check the path")
    _check_size(len(raw), source)
    return raw


def encode_text(text: str, source: str) -> bytes:
    if not isinstance(text, str):
        _fail_file(source, f"expected topology text, got {type(text).__name__}", "pass the YAML as a str")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        _fail_file(source, f"the text is not valid Unicode ({exc.reason})", "remove the lone surrogate characters")
    _check_size(len(raw), source)
    return raw


def _check_size(size: int, source: str) -> None:
    if size > MAX_TOPOLOGY_BYTES:
        _fail_file(
            source,
            f"the file is larger than {MAX_TOPOLOGY_BYTES} bytes (MAX_TOPOLOGY_BYTES)",
            "a topology is a short hand-written file; check that this is the right file",
        )


def _decode(raw: bytes, source: str) -> str:
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        _fail_file(
            source, "the file contains NUL bytes: it looks binary, not YAML", "point at the YAML file", line
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        _fail_file(
            source,
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            "save the file as UTF-8",
            line,
        )


class _AliasRefused(Exception):
    def __init__(self, anchor: str, line: int) -> None:
        super().__init__(anchor)
        self.anchor = anchor
        self.line = line


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases: they can expand exponentially ("billion laughs") and hide what a field
    really says; a topology spells every value out."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasRefused(event.anchor, event.start_mark.line + 1)
        return super().compose_node(parent, index)


def _compose(text: str, source: str) -> yaml.Node | None:
    try:
        loader = _NoAliasLoader(text)  # the reader checks every character here already
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except _AliasRefused as exc:
        _fail_file(
            source,
            f"YAML aliases are not supported (found *{exc.anchor})",
            f"write the value out instead of referring to &{exc.anchor}",
            exc.line,
        )
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, source) from None


_YAML_FIXES = (
    ("'\\t'", "indent with spaces; YAML does not allow tabs"),
    ("mapping values are not allowed", "quote values that contain ': ', or fix the indentation"),
    ("expected a single document", "keep one document per file: remove the extra '---'"),
    ("could not find expected ':'", "add ': ' after the key, or quote the value"),
    ("duplicate anchor", "give each anchor its own name"),
    ("special characters are not allowed", "remove the control character"),
)


def _yaml_error(exc: yaml.YAMLError, text: str, source: str) -> TopologyError:
    """A YAML syntax error as one line with its line number (PyYAML's own text spans several lines)."""
    line: int | None = None
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        detail = ", ".join(p for p in (exc.context, exc.problem) if p)
    elif isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        detail = f"unacceptable character #x{char:04x}: {exc.reason}"
    else:
        detail = str(exc)
    fix = next((f for key, f in _YAML_FIXES if key in detail), "fix the YAML syntax on or just before this line")
    return make_error(source, line, FILE_FIELD, f"invalid YAML: {detail}", fix)


class _Converter:
    """Turn a node tree into dicts/lists/scalars, remembering the line of every field path.

    A mapping entry maps to its key's line (where a reader looks), a list item to the item's first line.
    Duplicate keys are errors: PyYAML would silently keep the last one.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[Path, int] = {}
        self.texts: dict[Path, str] = {}  # source text of non-string scalars, to quote it back in messages
        self._scalars = yaml.constructor.SafeConstructor()

    def run(self, node: yaml.Node) -> Any:
        return self._convert(node, ())

    def _fail(self, node: yaml.Node, path: Path, problem: str, fix: str) -> NoReturn:
        raise make_error(self.source, node.start_mark.line + 1, path, problem, fix)

    def _convert(self, node: yaml.Node, path: Path) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if len(path) > MAX_DEPTH:
            self._fail(node, path, f"nested deeper than {MAX_DEPTH} levels", "flatten the document")
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                self._unsupported_tag(node, path)
            return [self._convert(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        if node.tag != _TAG + "map":
            self._unsupported_tag(node, path)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self._fail(key_node, path, "a mapping key is a list or mapping", "use plain text keys")
            key = key_node.value
            key_path = path + (key,)
            if key in out:
                first = self.lines[key_path]
                self._fail(key_node, key_path, f"key {_q(key)} appears twice (first on line {first})", "keep one")
            self.lines[key_path] = key_node.start_mark.line + 1
            out[key] = self._convert(value_node, key_path)
        return out

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        if node.tag == _TAG + "timestamp":
            return node.value  # dates are text here (a description, a name); never datetime objects
        if node.tag not in _SCALAR_TAGS:
            self._unsupported_tag(node, path)
        try:
            value = self._scalars.construct_object(node)
        except (ValueError, KeyError, TypeError, yaml.YAMLError):  # a tag that does not fit, e.g. "!!int abc"
            self._fail(node, path, f"cannot read {_q(node.value)} as {_tag(node.tag)}", "remove the explicit tag")
        if not isinstance(value, str):
            self.texts[path] = node.value
        return value

    def _unsupported_tag(self, node: yaml.Node, path: Path) -> NoReturn:
        self._fail(node, path, f"unsupported YAML tag {_tag(node.tag)}", "remove the tag; plain YAML values only")


def _tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def read_document(raw: bytes, source: str) -> tuple[dict[str, Any], dict[Path, int], dict[Path, str]]:
    """The document as plain data, the line of every field path, and the source text of non-string scalars."""
    text = _decode(raw, source)
    node = _compose(text, source)
    if node is None:
        _fail_file(source, "the file is empty (no YAML document)", f"start it with apiVersion: {API_VERSION}")
    converter = _Converter(source)
    data, lines = converter.run(node), converter.lines
    if data is None:
        _fail_file(source, "the document is empty (null)", f"start it with apiVersion: {API_VERSION}")
    if not isinstance(data, dict):
        raise make_error(
            source,
            lines.get((), 1),
            FILE_FIELD,
            f"the document is {_describe(data)}, not a mapping",
            f"write a mapping of fields, starting with apiVersion: {API_VERSION} and kind: Topology",
        )
    return data, converter.lines, converter.texts
