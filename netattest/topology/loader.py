"""Load a topology file into the frozen model, or say exactly what is wrong and how to fix it.

Three layers, each failing with a :class:`TopologyError` that names file, line, field and a fix:

1. bytes -> text -> YAML node tree: size cap, UTF-8 only, ``SafeLoader`` composition, aliases refused;
2. node tree -> plain data plus a map from field path to line, checked by the JSON Schema in ``schema.py``;
3. semantic checks in Python while the model is built: addresses, references, duplicates, node selection.

Field paths are index based (``pods[2].networks[0].ips[0]``) because an index always exists, even when the
name is missing or invalid; problem texts name the objects (``pod multus-test/pod-a``) for humans.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

import jsonschema
import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ..errors import TopologyError
from .model import (
    HOSTNAME_LABEL,
    PLUGIN_MODES,
    Attachment,
    Drift,
    Expectation,
    ExternalHost,
    ImpostorSpec,
    Ipam,
    LabSpec,
    Network,
    Nic,
    Node,
    Pod,
    PodNetwork,
    LeakSpec,
    RouterSpec,
    Topology,
)
from .schema import API_VERSION, TOPOLOGY_SCHEMA

__all__ = ["MAX_TOPOLOGY_BYTES", "format_path", "load_topology", "load_topology_text"]

MAX_TOPOLOGY_BYTES = 1 * 1024 * 1024
#: Deepest nesting a topology needs is about 6; anything far beyond is an accident or an attack.
MAX_DEPTH = 32

Path = tuple[str | int, ...]
FILE_FIELD = "-"

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL_PART = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
_VALIDATOR = jsonschema.Draft202012Validator(TOPOLOGY_SCHEMA)


# --------------------------------------------------------------------------------------------------------------
# public API


def load_topology(path: str | os.PathLike[str]) -> Topology:
    """Load and validate a topology file; every failure is a :class:`TopologyError`."""
    try:
        source = os.fspath(path)
    except TypeError:
        raise _error(str(path), None, FILE_FIELD, f"not a file path: {path!r}", "pass a str or Path") from None
    return _guarded(lambda: _from_bytes(_read(source), source), source)


def load_topology_text(text: str, source: str = "<string>") -> Topology:
    """Load a topology from text (tests, stdin); ``source`` is only used in messages."""
    return _guarded(lambda: _from_bytes(_encode(text, source), source), source)


def format_path(path: Path) -> str:
    """Render a field path the way messages show it: ``pods[2].networks[0].ips[0]``, ``-`` for the file."""
    out = ""
    for part in path:
        if isinstance(part, str) and not part.isprintable():
            part = repr(part)[1:-1]
        if isinstance(part, int) or not _IDENT.fullmatch(part):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or FILE_FIELD


def _error(source: str, line: int | None, path: Path | str, problem: str, fix: str) -> TopologyError:
    """The one place errors are made: always one line, whatever text the user's file contained."""
    field = path if isinstance(path, str) else format_path(path)
    return TopologyError(source, line, field, _oneline(problem), _oneline(fix))


def _guarded(load: Any, source: str) -> Topology:
    """Run a load; a bug in the loader still surfaces as one paragraph (the cause stays in ``__cause__``)."""
    try:
        return load()
    except TopologyError:
        raise
    except RecursionError as exc:
        raise _error(source, None, FILE_FIELD, "the document is nested too deeply", "flatten it") from exc
    except Exception as exc:  # the contract: callers only ever see TopologyError
        problem = f"internal error in the topology loader ({type(exc).__name__}: {_oneline(str(exc))})"
        raise _error(source, None, FILE_FIELD, problem, "report this netattest bug with the file") from exc


def _from_bytes(raw: bytes, source: str) -> Topology:
    text = _decode(raw, source)
    node = _compose(text, source)
    if node is None:
        _fail_file(source, "the file is empty (no YAML document)", f"start it with apiVersion: {API_VERSION}")
    converter = _Converter(source)
    data, lines = converter.run(node), converter.lines
    if data is None:
        _fail_file(source, "the document is empty (null)", f"start it with apiVersion: {API_VERSION}")
    if not isinstance(data, dict):
        raise _error(
            source,
            lines.get((), 1),
            FILE_FIELD,
            f"the document is {_describe(data)}, not a mapping",
            f"write a mapping of fields, starting with apiVersion: {API_VERSION} and kind: Topology",
        )
    _check_schema(data, lines, converter.texts, source)
    return _Builder(source, data, lines).build(hashlib.sha256(raw).hexdigest())


# --------------------------------------------------------------------------------------------------------------
# layer 1: bytes -> text -> YAML nodes


def _fail_file(source: str, problem: str, fix: str, line: int | None = None) -> NoReturn:
    raise _error(source, line, FILE_FIELD, problem, fix)


def _read(source: str) -> bytes:
    """Read at most one byte past the cap, so a huge (or endless) file is refused without reading it all."""
    try:
        with open(source, "rb") as handle:
            raw = handle.read(MAX_TOPOLOGY_BYTES + 1)
    except FileNotFoundError:
        _fail_file(source, "the file does not exist", f"check the path (relative to {os.getcwd()})")
    except IsADirectoryError:
        _fail_file(source, "this is a directory, not a file", "name a topology .yaml file")
    except PermissionError:
        _fail_file(source, "the file cannot be read (permission denied)", "make it readable for this user")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        _fail_file(source, f"the file cannot be read ({_oneline(reason)})", "check the path")
    _check_size(len(raw), source)
    return raw


def _encode(text: str, source: str) -> bytes:
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
    return _error(source, line, FILE_FIELD, f"invalid YAML: {detail}", fix)


# --------------------------------------------------------------------------------------------------------------
# layer 2: YAML nodes -> plain data + line map, then the JSON Schema


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
        raise _error(self.source, node.start_mark.line + 1, path, problem, fix)

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


def _line(lines: Mapping[Path, int], path: Path) -> int | None:
    """Line of a field, or of its nearest present ancestor (a missing field is reported at its parent)."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _check_schema(data: dict[str, Any], lines: Mapping[Path, int], texts: Mapping[Path, str], source: str) -> None:
    """Validate structure; report the most useful error: apiVersion/kind first, then wrong values in file order,
    then missing fields (an unknown key often explains a missing one, so it comes first)."""
    errors = list(_VALIDATOR.iter_errors(data))
    if not errors:
        return
    error = min(errors, key=lambda e: _rank(e, lines))
    path, problem, fix = _translate(error, texts)
    raise _error(source, _line(lines, path), path, problem, fix)


def _rank(error: jsonschema.ValidationError, lines: Mapping[Path, int]) -> tuple[int, int, int, int]:
    path = tuple(error.absolute_path)
    required = error.validator == "required"
    missing = _missing_key(error) if required else None
    header = path[:1] in (("apiVersion",), ("kind",)) or (not path and missing in ("apiVersion", "kind"))
    return (0 if header else 1, 1 if required else 0, _line(lines, path) or 0, len(path))


def _missing_key(error: jsonschema.ValidationError) -> str:
    return next(k for k in error.validator_value if k not in error.instance and repr(k) in error.message)


def _translate(error: jsonschema.ValidationError, texts: Mapping[Path, str]) -> tuple[Path, str, str]:
    """A jsonschema error as (field path, problem, fix) in the user's terms."""
    path: Path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    what = schema.get("x-what") or "value"
    kind = error.validator
    if kind == "additionalProperties":
        return _unknown_key(path, value, schema)
    if kind == "required":
        key = _missing_key(error)
        sub = schema.get("properties", {}).get(key, {})
        example = sub.get("x-example")
        hint = f" ({sub['description']})" if "description" in sub else ""
        fix = f"add {key}: {example}" if example is not None else f"add '{key}'{hint}"
        return path + (key,), f"missing required field '{key}'{hint}", fix
    if kind == "type":
        return path, *_type_problem(value, error.validator_value, texts.get(path))
    if kind == "enum":
        options = [str(o) for o in error.validator_value]
        return path, f"unknown {what} {_q(value)}", _choose(value, options)
    if kind == "const":
        return (
            path,
            f"unsupported {what} {_q(value)}",
            f"set {path[-1] if path else what}: {error.validator_value}",
        )
    if kind in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        return path, f"{what} {value} is out of range {low}-{high}", f"use a value from {low} to {high}"
    if kind == "minLength":
        return path, "the value is empty", "write a value, or remove the field if it is optional"
    if kind == "minItems":
        return path, "the list is empty", f"list at least {error.validator_value} entry"
    return path, _oneline(error.message), "see the topology format in docs (ARCHITECTURE.md section 3)"


def _unknown_key(path: Path, value: Mapping[str, Any], schema: Mapping[str, Any]) -> tuple[Path, str, str]:
    allowed = list(schema.get("properties", {}))
    key = next(str(k) for k in value if k not in allowed)
    where = f"in {format_path(path)}" if path else "at the top level"
    guess = _suggest(key, allowed)
    fix = f"did you mean '{guess}'? Rename it" if guess else "remove it"
    return path + (key,), f"unknown field '{key}' {where}", f"{fix} (allowed here: {', '.join(allowed)})"


_JSON_TYPES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping (key: value)",
}


def _type_problem(value: Any, expected: str | Sequence[str], text: str | None) -> tuple[str, str]:
    wanted = [expected] if isinstance(expected, str) else list(expected)
    want = " or ".join(_JSON_TYPES.get(t, t) for t in wanted)
    problem = f"expected {want}, got {_describe(value)}"
    if value is None:
        return problem, "write a value after the colon, or remove the line"
    if "string" in wanted and isinstance(value, (bool, int, float)):
        shown = text if text is not None else str(value)
        return problem, f'quote it: "{shown}" (YAML reads unquoted yes/no/on/off/true/false and numbers as such)'
    if "array" in wanted:
        return problem, "write a YAML list: one '- item' per line, or [a, b]"
    if "object" in wanted:
        return problem, "write 'key: value' lines indented under the field"
    return problem, f"write {want} here"


# --------------------------------------------------------------------------------------------------------------
# small text and value helpers


def _oneline(text: str) -> str:
    return " ".join(str(text).split())


def _q(value: Any, limit: int = 60) -> str:
    """Quote a user value for a message: printable, short."""
    text = value if isinstance(value, str) else str(value)
    if not text.isprintable():
        text = repr(text)[1:-1]
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"'{text}'"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {_q(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _suggest(value: Any, options: Iterable[str]) -> str | None:
    if not isinstance(value, str):
        return None
    options = list(options)
    folded = {o.lower().replace("_", "").replace("-", ""): o for o in options}
    key = value.lower().replace("_", "").replace("-", "")
    if key in folded:
        return folded[key]
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    return close[0] if close else None


def _int(value: Any) -> int | None:
    """JSON Schema's integer admits 112.0; the model wants a real int."""
    return None if value is None else int(value)


def _did_you_mean(value: Any, options: Sequence[str]) -> str:
    guess = _suggest(value, options)
    return f" (did you mean '{guess}'?)" if guess else ""


def _choose(value: Any, options: Sequence[str]) -> str:
    return f"use one of {', '.join(options)}{_did_you_mean(value, options)}"


def _listing(items: Iterable[str], limit: int = 8, sep: str = ", ") -> str:
    items = list(items)
    shown = sep.join(items[:limit]) + (f"{sep}... ({len(items)} in all)" if len(items) > limit else "")
    return shown or "none"


def _k8s_name_problem(value: str, subdomain: bool = False) -> str | None:
    """Why ``value`` is not a DNS-1123 label (or subdomain, for node names), or None when it is one."""
    limit = 253 if subdomain else 63
    if len(value) > limit:
        return f"is {len(value)} characters long, more than {limit}"
    extra = "-." if subdomain else "-"
    bad = sorted({c for c in value if not (c.isascii() and (c.islower() or c.isdigit())) and c not in extra})
    if bad:
        upper = " (uppercase is not allowed)" if any(c.isupper() for c in bad) else ""
        return "contains " + ", ".join(_q(c) for c in bad) + upper
    parts = value.split(".") if subdomain else [value]
    if any(not p or not p[0].isalnum() or not p[-1].isalnum() for p in parts):
        return "must start and end with a lowercase letter or digit"
    return None


def _k8s_name_fix(value: str) -> str:
    candidate = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:63].strip("-") or "name"
    return (
        "use lowercase letters, digits and '-', starting and ending with a letter or digit, "
        f"at most 63 characters (e.g. '{candidate}')"
    )


def _ifname_problem(value: str) -> str | None:
    size = len(value.encode("utf-8"))
    if size > 15:
        return f"is {size} bytes long; Linux interface names have at most 15"
    if value in (".", ".."):
        return "is '.' or '..', which Linux refuses"
    bad = sorted({c for c in value if c in "/:%" or not "!" <= c <= "~"})
    if bad:
        # '%' is a template to the kernel (n%d becomes n0), so the interface would not get the name asked for
        return ("contains " + ", ".join(repr(c) for c in bad) + ", which Linux refuses or rewrites in interface "
                "names (use printable ASCII without '/', ':', '%' or spaces)")
    return None


def _label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (_k8s_name_problem(prefix, subdomain=True) is not None):
        return f"has an invalid prefix {_q(prefix)} (must be a DNS subdomain like example.com)"
    if not name or len(name) > 63 or not _LABEL_PART.fullmatch(name):
        return (
            "has an invalid name part (1-63 characters: letters, digits, '-', '_', '.', alphanumeric at both ends)"
        )
    return None


def _label_value_problem(value: str) -> str | None:
    if value and (len(value) > 63 or not _LABEL_PART.fullmatch(value)):
        return "is not a valid label value (at most 63 letters, digits, '-', '_', '.', alphanumeric at both ends)"
    return None


def _master_fits(nic: Nic, attachment: Attachment) -> bool:
    """ipvlan/macvlan children join the master's own (untagged) network; the vlan plugin tags on a trunk."""
    if attachment.plugin == "vlan":
        return attachment.network in nic.trunk
    return nic.network == attachment.network


# --------------------------------------------------------------------------------------------------------------
# layer 3: semantic checks while building the model


class _Builder:
    """Build the model section by section; every check knows the field path, hence the line, it complains about.

    Sections are built in dependency order (networks, nodes, hosts, NADs, pods, expectations, lab) so each can
    check its references against the finished earlier ones.
    """

    def __init__(self, source: str, data: dict[str, Any], lines: Mapping[Path, int]) -> None:
        self.source = source
        self.data = data
        self.lines = lines
        self.networks: dict[str, Network] = {}
        self.nodes: dict[str, Node] = {}
        self.external_hosts: dict[str, ExternalHost] = {}
        self.attachments: dict[tuple[str, str], Attachment] = {}
        self.pods: dict[tuple[str, str], Pod] = {}
        self.host_names: dict[str, tuple[str, Path]] = {}  # nodes, external hosts, routers, impostors: lab hosts
        self.ips: dict[ipaddress.IPv4Address, tuple[str, Path]] = {}
        self.macs: dict[str, tuple[str, Path]] = {}

    # -- plumbing ----------------------------------------------------------------------------------------------

    def fail(self, path: Path, problem: str, fix: str) -> NoReturn:
        raise _error(self.source, _line(self.lines, path), path, problem, fix)

    def at(self, path: Path) -> str:
        """Where a first definition was, for duplicate messages."""
        line = _line(self.lines, path)
        return f"{format_path(path)} (line {line})" if line else format_path(path)

    def items(self, key: str) -> Iterable[tuple[Path, dict[str, Any]]]:
        return (((key, i), raw) for i, raw in enumerate(self.data.get(key, [])))

    def k8s_name(self, path: Path, value: str, what: str, subdomain: bool = False) -> str:
        problem = _k8s_name_problem(value, subdomain)
        if problem:
            kind = "DNS-1123 subdomain" if subdomain else "DNS-1123 label"
            self.fail(
                path, f"{what} {_q(value)} {problem}; it must be a Kubernetes name ({kind})", _k8s_name_fix(value)
            )
        return value

    def ifname(self, path: Path, value: str, what: str = "interface name") -> str:
        problem = _ifname_problem(value)
        if problem:
            self.fail(path, f"{what} {_q(value)} {problem}", "use 1-15 characters without '/', ':' or spaces")
        return value

    def labels(self, path: Path, raw: Mapping[str, str], what: str) -> dict[str, str]:
        for key, value in raw.items():
            key_problem = _label_key_problem(key)
            value_problem = _label_value_problem(value)
            if key_problem or value_problem:
                shown = (
                    f"key {_q(key)} {key_problem}"
                    if key_problem
                    else f"{_q(key)} value {_q(value)} {value_problem}"
                )
                self.fail(path + (key,), f"{what} {shown}", "use a Kubernetes label like example.com/role: worker")
        return dict(raw)

    def mac(self, path: Path, value: str, holder: str) -> str:
        if not _MAC.fullmatch(value):
            self.fail(path, f"{_q(value)} is not a MAC address", "write six hex pairs like 02:00:00:00:00:01")
        mac = value.lower()
        if int(mac[:2], 16) & 1 or mac == "00:00:00:00:00:00":
            self.fail(
                path,
                f"{mac} is not a unicast MAC",
                "use a locally administered unicast MAC like 02:00:00:00:00:01",
            )
        if mac in self.macs:
            other, first = self.macs[mac]
            self.fail(
                path,
                f"MAC {mac} of {holder} is already used by {other} at {self.at(first)}",
                "give each a unique MAC",
            )
        self.macs[mac] = (holder, path)
        return mac

    def claim_ip(self, ip: ipaddress.IPv4Address, holder: str, path: Path) -> None:
        if ip in self.ips:
            other, first = self.ips[ip]
            self.fail(
                path,
                f"duplicate IP {ip}: {holder} and {other} at {self.at(first)} both use it",
                "give each holder its own address (model a deliberate conflict with lab.impostors or lab.drift)",
            )
        self.ips[ip] = (holder, path)

    def unique_host(self, name: str, path: Path, kind: str) -> None:
        if name in self.host_names:
            other, first = self.host_names[name]
            self.fail(
                path, f"duplicate name {_q(name)}: {kind} and {other} at {self.at(first)}", "rename one of them"
            )
        self.host_names[name] = (kind, path)

    def network_ref(self, path: Path, name: str) -> Network:
        if name not in self.networks:
            self.fail(
                path,
                f"unknown network {_q(name)}",
                f"define it under networks, or {_choose(name, list(self.networks))}",
            )
        return self.networks[name]

    # -- addresses ---------------------------------------------------------------------------------------------

    def subnet(self, path: Path, value: str) -> ipaddress.IPv4Network:
        try:
            iface = ipaddress.ip_interface(value)
        except ValueError:
            self.fail(path, f"{_q(value)} is not an IPv4 CIDR", "write network/prefix, e.g. 192.168.112.0/24")
        if iface.version != 4:
            self.fail(path, f"{value} is IPv6; netattest topologies are IPv4 only", "use an IPv4 subnet")
        if "/" not in value:
            self.fail(
                path, f"subnet {_q(value)} has no prefix length", f"write it as {value}/<prefix>, e.g. {value}/24"
            )
        if iface.ip != iface.network.network_address:
            self.fail(path, f"subnet {value} has host bits set", f"use the network address: {iface.network}")
        return iface.network

    def address(self, path: Path, value: str, network: Network | None) -> ipaddress.IPv4Address:
        if "/" in value:
            self.fail(
                path,
                f"{_q(value)} has a prefix length but this field takes a bare address",
                f"write {value.split('/')[0]}",
            )
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            self.fail(path, f"{_q(value)} is not an IPv4 address", "write four dotted numbers, e.g. 192.168.112.1")
        if ip.version != 4:
            self.fail(path, f"{value} is IPv6; netattest topologies are IPv4 only", "use an IPv4 address")
        if network is not None:
            self.inside(path, ip, network)
        return ip

    def interface(self, path: Path, value: str, network: Network | None) -> ipaddress.IPv4Interface:
        """An address with prefix, inside ``network`` (when given) and no wider than its subnet."""
        if "/" not in value:
            prefix = network.subnet.prefixlen if network else 24
            self.fail(path, f"{_q(value)} has no prefix length", f"write {value}/{prefix}")
        try:
            iface = ipaddress.ip_interface(value)
        except ValueError:
            self.fail(path, f"{_q(value)} is not an IPv4 address with prefix", "write it like 192.168.112.11/24")
        if iface.version != 4:
            self.fail(path, f"{value} is IPv6; netattest topologies are IPv4 only", "use an IPv4 address")
        if network is not None:
            self.inside(path, iface.ip, network)
            if iface.network.prefixlen < network.subnet.prefixlen:
                self.fail(
                    path,
                    f"{value} is wider than network {network.name}'s subnet {network.subnet}",
                    f"write {iface.ip}/{network.subnet.prefixlen}",
                )
        return iface

    def inside(self, path: Path, ip: ipaddress.IPv4Address, network: Network) -> None:
        subnet = network.subnet
        vlan = f" (VLAN {network.vlan})" if network.vlan else ""
        if ip not in subnet:
            owner = next((n.name for n in self.networks.values() if ip in n.subnet), None)
            hint = f", or move it to network {owner}, whose subnet holds it" if owner else ""
            self.fail(
                path,
                f"{ip} is outside subnet {subnet} of network {network.name}{vlan}",
                f"use an address in {subnet}{hint}",
            )
        if subnet.prefixlen <= 30 and ip in (subnet.network_address, subnet.broadcast_address):
            kind = "network" if ip == subnet.network_address else "broadcast"
            self.fail(path, f"{ip} is the {kind} address of {subnet}", f"use a host address in {subnet}")

    # -- top level ---------------------------------------------------------------------------------------------

    def build(self, sha256: str) -> Topology:
        name = self.data["name"]
        problem = _label_value_problem(name)
        if problem:
            self.fail(("name",), f"topology name {_q(name)} {problem}", "use something like restricted-vlan")
        networks = self.build_networks()
        nodes = self.build_nodes()
        hosts = self.build_external_hosts()
        attachments = self.build_attachments()
        pods = self.build_pods()
        expectations = self.build_expectations()
        lab = self.build_lab()
        return Topology(
            name=name,
            source=self.source,
            sha256=sha256,
            networks=networks,
            nodes=nodes,
            external_hosts=hosts,
            attachments=attachments,
            pods=pods,
            expectations=expectations,
            lab=lab,
            description=self.data.get("description", ""),
        )

    # -- networks ----------------------------------------------------------------------------------------------

    def build_networks(self) -> tuple[Network, ...]:
        vlans: dict[int, Path] = {}
        for path, raw in self.items("networks"):
            name = self.k8s_name(path + ("name",), raw["name"], "network name")
            if name in self.networks:
                first = next(p for p, r in self.items("networks") if r["name"] == name)
                self.fail(
                    path + ("name",),
                    f"duplicate network name {_q(name)} (first at {self.at(first)})",
                    "rename one",
                )
            vlan = _int(raw.get("vlan"))
            if vlan is not None and vlan in vlans:
                self.fail(
                    path + ("vlan",),
                    f"VLAN {vlan} is already used by {self.at(vlans[vlan])}",
                    "give each network its own VLAN id",
                )
            if vlan is not None:
                vlans[vlan] = path
            subnet = self.subnet(path + ("subnet",), raw["subnet"])
            network = Network(name, subnet, vlan, None, raw.get("routed", True), _int(raw.get("mtu")) or 1500,
                              raw.get("unknownNeighbours", "report"))
            if "gateway" in raw:
                gateway = self.address(path + ("gateway",), raw["gateway"], network)
                network = Network(name, subnet, vlan, gateway, network.routed, network.mtu, network.unknown_neighbours)
            self.networks[name] = network
        return tuple(self.networks.values())

    # -- nodes and NICs ----------------------------------------------------------------------------------------

    def build_nodes(self) -> tuple[Node, ...]:
        for path, raw in self.items("nodes"):
            name = self.k8s_name(path + ("name",), raw["name"], "node name", subdomain=True)
            self.unique_host(name, path + ("name",), f"node {name}")
            labels = self.labels(path + ("labels",), raw.get("labels", {}), f"node {name} label")
            self.nodes[name] = Node(name, labels, self.build_nics(path, name, raw["nics"]))
        return tuple(self.nodes.values())

    def build_nics(self, path: Path, node: str, raws: list[dict[str, Any]]) -> tuple[Nic, ...]:
        index: dict[str, int] = {}
        for j, raw in enumerate(raws):
            nic_path = path + ("nics", j, "name")
            name = self.ifname(nic_path, raw["name"], "NIC name")
            if name in index:
                first = path + ("nics", index[name], "name")
                self.fail(
                    nic_path, f"node {node} has two NICs named {name} (first at {self.at(first)})", "rename one"
                )
            index[name] = j
        return tuple(self.build_nic(path + ("nics", j), node, raw, raws, index) for j, raw in enumerate(raws))

    def build_nic(
        self, path: Path, node: str, raw: dict[str, Any], raws: list[dict[str, Any]], index: Mapping[str, int]
    ) -> Nic:
        name = raw["name"]
        network = self.network_ref(path + ("network",), raw["network"]) if "network" in raw else None
        trunk = self.trunk(path + ("trunk",), raw["trunk"]) if "trunk" in raw else ()
        vlan = _int(raw.get("vlan"))
        if trunk:
            if network is not None:
                self.fail(
                    path + ("network",),
                    f"NIC {name} on node {node} is a trunk and also names access network {network.name}",
                    "remove 'network' (a trunk carries its networks tagged) or remove 'trunk'",
                )
            for key in ("parent", "vlan", "address"):
                if key in raw:
                    self.fail(
                        path + (key,),
                        f"trunk NIC {name} on node {node} cannot have '{key}' (it has no untagged network)",
                        f"remove '{key}'; put addresses on a VLAN sub-interface (a NIC with parent: {name})",
                    )
        elif "parent" in raw:
            vlan = self.sub_interface(path, node, raw, network, raws, index)
        elif vlan is not None:
            self.fail(
                path + ("vlan",),
                f"NIC {name} on node {node} has 'vlan' but no 'parent'",
                "add parent: <trunk NIC> to make it a VLAN sub-interface, or remove vlan (an access port's VLAN "
                "comes from its network)",
            )
        elif network is None:
            self.fail(
                path,
                f"NIC {name} on node {node} is not wired to any network",
                "add network: <name> (access port), trunk: [<networks>], or parent: <trunk NIC> with network",
            )
        address = None
        if "address" in raw and network is not None:
            address = self.interface(path + ("address",), raw["address"], network)
            self.claim_ip(address.ip, f"NIC {name} of node {node}", path + ("address",))
        # a NIC carries its network's MTU unless told otherwise; a trunk must carry the largest of its networks'
        mtu = _int(raw.get("mtu")) or (network.mtu if network else max(self.networks[n].mtu for n in trunk))
        return Nic(name, network.name if network else None, address, mtu, trunk, raw.get("parent"), vlan)

    def trunk(self, path: Path, names: list[str]) -> tuple[str, ...]:
        for k, name in enumerate(names):
            network = self.network_ref(path + (k,), name)
            if names.index(name) != k:
                self.fail(path + (k,), f"network {name} is listed twice in the trunk", "list it once")
            if network.vlan is None:
                self.fail(
                    path + (k,),
                    f"network {name} has no vlan id, so a trunk cannot carry it tagged",
                    f"give network {name} a vlan, or connect it through an access NIC (network: {name})",
                )
        return tuple(names)

    def sub_interface(
        self,
        path: Path,
        node: str,
        raw: dict[str, Any],
        network: Network | None,
        raws: list[dict[str, Any]],
        index: Mapping[str, int],
    ) -> int:
        """Check a VLAN sub-interface against its trunk parent; return its VLAN id (the network's)."""
        name, parent = raw["name"], raw["parent"]
        if network is None:
            self.fail(
                path,
                f"VLAN sub-interface {name} on node {node} has no network",
                "add network: <the VLAN's network>",
            )
        if parent not in index or parent == name:
            others = [r["name"] for r in raws if r["name"] != name]
            self.fail(
                path + ("parent",),
                f"parent NIC {_q(parent)} does not exist on node {node}",
                _choose(parent, others),
            )
        if network.vlan is None:
            self.fail(
                path + ("network",),
                f"network {network.name} has no vlan id, so {name} cannot be a VLAN sub-interface in it",
                f"give network {network.name} a vlan, or make {name} an access NIC (remove parent)",
            )
        trunk = raws[index[parent]].get("trunk", [])
        if network.name not in trunk:
            what = (
                f"trunk {parent} does not carry"
                if trunk
                else f"parent {parent} is not a trunk, so it cannot carry"
            )
            self.fail(
                path + ("parent",),
                f"{what} network {network.name}",
                f"add {network.name} to {parent}'s trunk list",
            )
        vlan = _int(raw.get("vlan", network.vlan))
        if vlan != network.vlan:
            self.fail(
                path + ("vlan",),
                f"vlan {vlan} of {name} does not match network {network.name}'s VLAN id {network.vlan}",
                f"set vlan: {network.vlan}, or remove vlan (it defaults to the network's)",
            )
        return vlan

    # -- external hosts ----------------------------------------------------------------------------------------

    def build_external_hosts(self) -> tuple[ExternalHost, ...]:
        for path, raw in self.items("externalHosts"):
            name = self.k8s_name(path + ("name",), raw["name"], "external host name")
            self.unique_host(name, path + ("name",), f"external host {name}")
            network = self.network_ref(path + ("network",), raw["network"])
            address = self.interface(path + ("address",), raw["address"], network)
            self.claim_ip(address.ip, f"external host {name}", path + ("address",))
            mac = self.mac(path + ("mac",), raw["mac"], f"external host {name}") if "mac" in raw else None
            host = ExternalHost(name, network.name, address, mac, raw.get("dhcpServer", False),
                                raw.get("dhcpDefaultRoute", False))
            self.external_hosts[name] = host
        return tuple(self.external_hosts.values())

    # -- attachments (NADs) ------------------------------------------------------------------------------------

    def build_attachments(self) -> tuple[Attachment, ...]:
        for path, raw in self.items("attachments"):
            name = self.k8s_name(path + ("name",), raw["name"], "NAD name")
            namespace = self.k8s_name(path + ("namespace",), raw["namespace"], "namespace")
            if (namespace, name) in self.attachments:
                first = next(
                    p for p, r in self.items("attachments") if (r["namespace"], r["name"]) == (namespace, name)
                )
                self.fail(
                    path + ("name",),
                    f"duplicate NAD {namespace}/{name} (first at {self.at(first)})",
                    "rename one, or put it in another namespace",
                )
            network = self.network_ref(path + ("network",), raw["network"])
            plugin = raw["plugin"]
            mode = self.mode(path, plugin, raw.get("mode"))
            if plugin == "vlan" and network.vlan is None:
                self.fail(
                    path + ("network",),
                    f"the vlan plugin tags frames with the network's VLAN id, but network {network.name} has none",
                    f"give network {network.name} a vlan, or use ipvlan or macvlan",
                )
            master = self.ifname(path + ("master",), raw["master"], "master NIC")
            if not any(node.nic(master) for node in self.nodes.values()):
                nics = sorted({nic.name for node in self.nodes.values() for nic in node.nics})
                self.fail(
                    path + ("master",),
                    f"master NIC {_q(master)} of NAD {namespace}/{name} exists on no node",
                    f"set master to a NIC the nodes have: {_listing(nics)}{_did_you_mean(master, nics)}; "
                    f"or add {master} to the nodes",
                )
            ipam_raw = raw["ipam"]
            ipam = Ipam(ipam_raw["type"], {k: v for k, v in ipam_raw.items() if k != "type"})
            mtu = _int(raw.get("mtu"))
            attachment = Attachment(name, namespace, network.name, plugin, mode, master, ipam, mtu)
            self.attachments[(namespace, name)] = attachment
        return tuple(self.attachments.values())

    def mode(self, path: Path, plugin: str, mode: str | None) -> str:
        """The plugin's mode, defaulted as the CNI plugin does (ipvlan l2, macvlan bridge; vlan has none)."""
        allowed = PLUGIN_MODES[plugin]
        if plugin == "vlan":
            if mode:
                self.fail(path + ("mode",), f"the vlan plugin has no mode, got {_q(mode)}", "remove mode")
            return ""
        if mode is None:
            return allowed[0]
        if mode not in allowed:
            other = next((p for p, modes in PLUGIN_MODES.items() if p != plugin and mode in modes), None)
            hint = f" ({mode} is a {other} mode)" if other else ""
            self.fail(path + ("mode",), f"mode {_q(mode)} is not valid for {plugin}{hint}", _choose(mode, allowed))
        return mode

    # -- pods --------------------------------------------------------------------------------------------------

    def build_pods(self) -> tuple[Pod, ...]:
        for path, raw in self.items("pods"):
            name = self.k8s_name(path + ("name",), raw["name"], "pod name")
            namespace = self.k8s_name(path + ("namespace",), raw["namespace"], "namespace")
            key = f"{namespace}/{name}"
            if (namespace, name) in self.pods:
                first = next(p for p, r in self.items("pods") if (r["namespace"], r["name"]) == (namespace, name))
                self.fail(
                    path + ("name",), f"duplicate pod {key} (first at {self.at(first)})", "rename one of them"
                )
            selector = self.labels(
                path + ("nodeSelector",), raw.get("nodeSelector", {}), f"pod {key} nodeSelector"
            )
            candidates = self.nodes_matching(selector)
            if not candidates:
                self.no_node(path, key, selector)
            interfaces: dict[str, Path] = {}
            networks = tuple(
                self.pod_network(path + ("networks", j), j, key, namespace, net, candidates, interfaces)
                for j, net in enumerate(raw.get("networks", []))
            )
            self.pods[(namespace, name)] = Pod(name, namespace, selector, networks)
        return tuple(self.pods.values())

    def nodes_matching(self, selector: Mapping[str, str]) -> tuple[Node, ...]:
        """The model's nodeSelector semantics (implicit hostname label included), before the Topology exists."""
        return tuple(
            n for n in self.nodes.values() if all(n.all_labels().get(k) == v for k, v in selector.items())
        )

    def no_node(self, path: Path, key: str, selector: Mapping[str, str]) -> NoReturn:
        described = [
            f"{n.name}: " + (", ".join(f"{k}={v}" for k, v in n.labels.items()) or "(no labels)")
            for n in self.nodes.values()
        ]
        summary = _listing(described, sep="; ")
        summary += f"; every node also has {HOSTNAME_LABEL}=<its name>"
        for label, value in selector.items():
            if not any(n.all_labels().get(label) == value for n in self.nodes.values()):
                self.fail(
                    path + ("nodeSelector", label),
                    f"pod {key} selects nodes with {label}={value}, but no node carries that label "
                    f"(node labels: {summary})",
                    f"label a node (kubectl label node <node> {label}={value}), or fix the selector",
                )
        pairs = ", ".join(f"{k}={v}" for k, v in selector.items())
        self.fail(
            path + ("nodeSelector",),
            f"pod {key} selects nodes with {pairs}, but no single node carries all of them "
            f"(node labels: {summary})",
            "label one node with all of them, or drop a selector entry",
        )

    def pod_network(
        self,
        path: Path,
        index: int,
        pod: str,
        pod_namespace: str,
        raw: dict[str, Any],
        candidates: tuple[Node, ...],
        interfaces: dict[str, Path],
    ) -> PodNetwork:
        attachment, namespace = self.attachment_ref(path, raw, pod_namespace)
        iface = self.pod_interface(path, index, pod, raw, interfaces)
        network = self.networks[attachment.network]
        ips = tuple(self.interface(path + ("ips", k), v, network) for k, v in enumerate(raw.get("ips", [])))
        for k, ip in enumerate(ips):
            self.claim_ip(ip.ip, f"pod {pod} {iface}", path + ("ips", k))
        ipam = attachment.ipam.type
        if ipam == "static" and not ips:
            self.fail(
                path,
                f"NAD {attachment.key} uses static IPAM, so pod {pod} must list its address for {iface}",
                f"add ips: [<address in {network.subnet}>] to this network entry",
            )
        if ipam == "dhcp" and ips:
            self.fail(
                path + ("ips",), f"NAD {attachment.key} uses dhcp IPAM, which ignores requested ips", "remove ips"
            )
        mac = None
        if "mac" in raw:
            if attachment.plugin == "ipvlan":
                self.fail(
                    path + ("mac",),
                    f"NAD {attachment.key} is ipvlan, whose interfaces always carry the master's MAC",
                    "remove mac, or use a macvlan NAD",
                )
            mac = self.mac(path + ("mac",), raw["mac"], f"pod {pod} {iface}")
        self.check_landing(path, pod, attachment, candidates)
        return PodNetwork(attachment.name, iface, ips, mac, namespace)

    def attachment_ref(self, path: Path, raw: dict[str, Any], pod_namespace: str) -> tuple[Attachment, str | None]:
        """Resolve ``attachment`` (name or ns/name) plus optional ``namespace``; returns the NAD and the explicit
        namespace (None when the pod's own applies), normalised so the name never contains '/'."""
        ref, namespace = raw["attachment"], raw.get("namespace")
        name = ref
        if "/" in ref:
            ref_namespace, _, name = ref.partition("/")
            if namespace is not None and namespace != ref_namespace:
                self.fail(
                    path + ("namespace",),
                    f"attachment {ref} names namespace {ref_namespace} but namespace says {namespace}",
                    "give the namespace once",
                )
            namespace = ref_namespace
        if namespace is not None:
            self.k8s_name(path + ("attachment",), namespace, "attachment namespace")
        self.k8s_name(path + ("attachment",), name, "attachment name")
        target = namespace or pod_namespace
        if (target, name) not in self.attachments:
            known = [a.name for a in self.attachments.values() if a.namespace == target]
            elsewhere = [a.key for a in self.attachments.values() if a.name == name]
            if elsewhere:
                fix = f"write attachment: {elsewhere[0]} (NADs are per namespace), or define {name} in {target}"
            else:
                fix = f"define it under attachments, or {_choose(name, known)}" if known else "define it first"
            self.fail(path + ("attachment",), f"attachment {target}/{name} not found", fix)
        return self.attachments[(target, name)], namespace

    def pod_interface(
        self, path: Path, index: int, pod: str, raw: dict[str, Any], interfaces: dict[str, Path]
    ) -> str:
        """The interface name, defaulted as Multus does (net1, net2, ... by position)."""
        iface = self.ifname(path + ("interface",), raw.get("interface", f"net{index + 1}"))
        if iface in ("eth0", "lo"):
            self.fail(
                path + ("interface",),
                f"{iface} is the pod's own {'primary' if iface == 'eth0' else 'loopback'} interface",
                "use net1, net2, ...",
            )
        if iface in interfaces:
            self.fail(
                path + ("interface",),
                f"pod {pod} already has an interface {iface} (from {self.at(interfaces[iface])})",
                "give each network entry its own interface name",
            )
        interfaces[iface] = path
        return iface

    def check_landing(self, path: Path, pod: str, attachment: Attachment, candidates: tuple[Node, ...]) -> None:
        """A pod can only attach on a node that has the NAD's master, wired to the NAD's network."""
        master = attachment.master
        holders = [n for n in candidates if n.nic(master)]
        if not holders:
            having = [n.name for n in self.nodes.values() if n.nic(master)]
            matched = _listing(n.name for n in candidates)
            self.fail(
                path + ("attachment",),
                f"pod {pod} uses NAD {attachment.key} whose master {master} is absent on every node its "
                f"nodeSelector matches ({matched}); {master} exists on {_listing(having)}",
                f"change the pod's nodeSelector or label one of {_listing(having)} to match it, "
                f"or set the NAD's master to a NIC of {matched}",
            )
        for node in holders:
            self.check_master_nic(path, pod, attachment, node)

    def check_master_nic(self, path: Path, pod: str, attachment: Attachment, node: Node) -> None:
        nic = node.nic(attachment.master)
        if nic is None:
            return
        if attachment.plugin == "vlan":
            need = f"a trunk carrying network {attachment.network}"
        else:
            need = f"a NIC in network {attachment.network} (access port or VLAN sub-interface)"
        if not _master_fits(nic, attachment):
            wiring = f"a trunk carrying {', '.join(nic.trunk)}" if nic.trunk else f"in network {nic.network}"
            fitting = [n.name for n in node.nics if _master_fits(n, attachment)]
            use = (
                f"set the NAD's master to {' or '.join(fitting)}" if fitting else f"wire {nic.name} on {node.name}"
            )
            self.fail(
                path + ("attachment",),
                f"pod {pod} can land on node {node.name}, where master {nic.name} of NAD {attachment.key} is "
                f"{wiring}, but the {attachment.plugin} NAD needs {need}",
                f"{use}, or narrow the pod's nodeSelector",
            )
        if attachment.mtu is not None and attachment.mtu > nic.mtu:
            self.fail(
                path + ("attachment",),
                f"NAD {attachment.key} has mtu {attachment.mtu}, more than master {nic.name}'s "
                f"{nic.mtu} on node {node.name}",
                f"lower the NAD's mtu to at most {nic.mtu}, or raise the NIC's mtu",
            )

    # -- expectations ------------------------------------------------------------------------------------------

    def build_expectations(self) -> tuple[Expectation, ...]:
        seen: dict[tuple[str, str], Path] = {}
        out = []
        for path, raw in self.items("expectations"):
            source = self.network_ref(path + ("from",), raw["from"]).name
            target = self.network_ref(path + ("to",), raw["to"]).name
            if (source, target) in seen:
                self.fail(
                    path,
                    f"a second expectation for {source} -> {target} (first at {self.at(seen[(source, target)])})",
                    "keep one expectation per (from, to) pair",
                )
            seen[(source, target)] = path
            out.append(Expectation(source, target, raw["expect"], raw.get("why", "")))
        return tuple(out)

    # -- lab ---------------------------------------------------------------------------------------------------

    def build_lab(self) -> LabSpec:
        lab = self.data.get("lab", {})
        routers = tuple(self.router(("lab", "routers", i), raw) for i, raw in enumerate(lab.get("routers", [])))
        impostors = tuple(
            self.impostor(("lab", "impostors", i), raw) for i, raw in enumerate(lab.get("impostors", []))
        )
        drift = self.drift(("lab", "drift"), lab.get("drift", {}))
        leaks = tuple(self.leak(("lab", "leaks", i), raw) for i, raw in enumerate(lab.get("leaks", [])))
        return LabSpec(routers, impostors, drift, leaks)

    def leak(self, path: Path, raw: dict[str, Any]) -> LeakSpec:
        name = self.k8s_name(path + ("name",), raw["name"], "leak name")
        self.unique_host(name, path + ("name",), f"leak {name}")
        networks = tuple(self.network_ref(path + ("networks", k), ref).name for k, ref in enumerate(raw["networks"]))
        if len(set(networks)) != len(networks):
            self.fail(path + ("networks",), f"leak {name} names a network twice", "name each network once")
        return LeakSpec(name, networks)

    def router(self, path: Path, raw: dict[str, Any]) -> RouterSpec:
        name = self.k8s_name(path + ("name",), raw["name"], "router name")
        self.unique_host(name, path + ("name",), f"router {name}")
        legs: list[tuple[str, ipaddress.IPv4Interface]] = []
        for k, leg in enumerate(raw["legs"]):
            leg_path = path + ("legs", k)
            network = self.network_ref(leg_path + ("network",), leg["network"])
            if any(n == network.name for n, _ in legs):
                self.fail(
                    leg_path + ("network",), f"router {name} has two legs in network {network.name}", "keep one"
                )
            address = self.interface(leg_path + ("address",), leg["address"], network)
            self.claim_ip(address.ip, f"router {name} leg in {network.name}", leg_path + ("address",))
            legs.append((network.name, address))
        forward = tuple(self.direction(path + ("forward", k), text, name, [n for n, _ in legs])
                        for k, text in enumerate(raw.get("forward", [])))
        protocols = tuple(dict.fromkeys(raw.get("protocols", [])))
        return RouterSpec(name, tuple(legs), raw.get("proxyArp", True), forward, protocols, raw.get("nat", False),
                          raw.get("stateful", False))

    def direction(self, path: Path, text: str, router: str, legs: list[str]) -> tuple[str, str]:
        """A router's forwarding direction, written "from-network -> to-network" between two of its legs."""
        parts = [p.strip() for p in text.split("->")]
        if len(parts) != 2 or not all(parts):
            self.fail(path, f"router {router}: direction {_q(text)} is not 'from -> to'",
                      f"write it as '{legs[0]} -> {legs[-1]}'")
        for part in parts:
            if part not in legs:
                self.fail(path, f"router {router}: {_q(part)} is not one of its legs ({', '.join(legs)})",
                          "name two networks the router has a leg in")
        if parts[0] == parts[1]:
            self.fail(path, f"router {router}: direction {_q(text)} goes nowhere", "name two different legs")
        return parts[0], parts[1]

    def impostor(self, path: Path, raw: dict[str, Any]) -> ImpostorSpec:
        name = self.k8s_name(path + ("name",), raw["name"], "impostor name")
        self.unique_host(name, path + ("name",), f"impostor {name}")
        network = self.network_ref(path + ("network",), raw["network"])
        return ImpostorSpec(name, network.name, self.address(path + ("claims",), raw["claims"], network))

    def drift(self, path: Path, raw: dict[str, Any]) -> Drift:
        """Drift is deliberate mis-wiring: only its references are checked, never duplicates or subnets.

        Keys may be written ``name`` or ``namespace/name`` but are stored by bare name (``pod/iface`` for podIps),
        which is how the lab looks them up; so a referenced name must be unique across namespaces.
        """
        nad_plugin = {}
        for ref, spec in raw.get("nadPlugin", {}).items():
            ref_path = path + ("nadPlugin", ref)
            attachment = self.find(ref_path, ref, self.attachments, "NAD")
            nad_plugin[attachment.name] = (spec["plugin"], self.mode(ref_path, spec["plugin"], spec.get("mode")))
        pod_node = {}
        for ref, node in raw.get("podNode", {}).items():
            pod = self.find(path + ("podNode", ref), ref, self.pods, "pod")
            if node not in self.nodes:
                self.fail(path + ("podNode", ref), f"unknown node {_q(node)}", _choose(node, list(self.nodes)))
            pod_node[pod.name] = node
        pod_ips = {}
        for ref, ips in raw.get("podIps", {}).items():
            pod, iface = self.drift_interface(path + ("podIps", ref), ref)
            pod_ips[f"{pod.name}/{iface}"] = tuple(
                self.interface(path + ("podIps", ref, k), v, None) for k, v in enumerate(ips)
            )
        removed = self.host_refs(path + ("removeExternalHosts",), raw.get("removeExternalHosts", []))
        routers = self.host_refs(path + ("dhcpDefaultRoute",), raw.get("dhcpDefaultRoute", []))
        return Drift(nad_plugin, pod_node, pod_ips, removed, routers)

    def drift_interface(self, path: Path, ref: str) -> tuple[Pod, str]:
        pod_ref, slash, iface = ref.rpartition("/")
        if not slash or not pod_ref:
            self.fail(path, f"key {_q(ref)} is not pod/interface", "write it like pod-a/net1")
        pod = self.find(path, pod_ref, self.pods, "pod")
        names = [n.interface for n in pod.networks]
        if iface not in names:
            fix = _choose(iface, names) if names else "give the pod a network first"
            self.fail(path, f"pod {pod.key} has no interface {_q(iface)}", fix)
        return pod, iface

    def host_refs(self, path: Path, names: list[str]) -> tuple[str, ...]:
        for k, name in enumerate(names):
            if name not in self.external_hosts:
                fix = _choose(name, list(self.external_hosts)) if self.external_hosts else "remove it"
                self.fail(path + (k,), f"unknown external host {_q(name)}", fix)
        return tuple(names)

    def find(self, path: Path, ref: str, table: Mapping[tuple[str, str], Any], what: str) -> Any:
        """Look up ``name`` or ``namespace/name``; the bare name must be unique (drift is applied by name)."""
        namespace, _, name = ref.rpartition("/")
        found = [v for (ns, n), v in table.items() if n == name and (not namespace or ns == namespace)]
        if not found:
            known = [f"{ns}/{n}" if namespace else n for ns, n in table]
            fix = _choose(ref, known) if known else f"define the {what} first"
            self.fail(path, f"unknown {what} {_q(ref)}", fix)
        namespaces = sorted(ns for ns, n in table if n == name)
        if len(namespaces) > 1:
            self.fail(
                path,
                f"lab drift applies by name, and {what} name {_q(name)} exists in several namespaces "
                f"({', '.join(namespaces)})",
                f"rename the {what} in all but one namespace",
            )
        return found[0]
