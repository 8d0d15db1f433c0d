"""Keep credentials out of every evidence file.

Two nets: patterns for anything shaped like a credential (bearer tokens, kubeconfig secrets, PEM private keys,
JWTs, ``--token`` style arguments), and the literal secret values of the kubeconfig files and secret-named
environment variables this process can see (so a token of any shape is removed once we know it). Reports never
copy the environment in the first place; this is the belt to those braces.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

REDACTED = "[REDACTED]"
_SECRET_KEYS = r"(?:token|id-token|refresh-token|access-token|client-key-data|client-certificate-data|password|" \
               r"passwd|secret|api[-_]?key)"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys, also inside JSON strings (escaped newlines)
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", re.DOTALL),
     "-----BEGIN PRIVATE KEY-----" + REDACTED + "-----END PRIVATE KEY-----"),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), r"\1" + REDACTED),
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?basic\s+)[A-Za-z0-9+/]+=*"), r"\1" + REDACTED),
    # JSON Web Tokens (Kubernetes service-account tokens)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # key: value / "key": "value" / key=value, as in kubeconfig YAML or JSON
    (re.compile(r"(?i)(\b" + _SECRET_KEYS + r"""["']?\s*[:=]\s*["']?)(?!\[REDACTED\])[^\s"',;}&]{4,}"""),
     r"\1" + REDACTED),
    # command-line style: --token xyz, --password=xyz
    (re.compile(r"(?i)(--(?:token|password|client-key)[= ])(?!\[REDACTED\])\S+"), r"\1" + REDACTED),
]
#: every pattern above needs one of these words (lower case): texts without them are left alone without running
#: the patterns. Plain substring tests on the lowered text: a case-insensitive regex alternation cost 5 s of a
#: 5,000-check run's evidence
_TRIGGER_WORDS = ("private key", "bearer", "authorization", "eyj", "token", "client-key", "client-certificate-data",
                  "password", "passwd", "secret", "apikey", "api-key", "api_key")
_SECRET_ENV = re.compile(r"(?i)(TOKEN|SECRET|PASSW|PRIVATE|CREDENTIAL|API_?KEY|AUTH)")
_KUBECONFIG_SECRET_FIELDS = {"token", "client-key-data", "client-certificate-data", "password", "id-token",
                             "refresh-token", "access-token", "client-secret"}
MIN_LITERAL = 8  # shorter values are not redacted literally (they would match ordinary words)


def _walk_secrets(node: Any, found: set[str]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(value, str) and str(key).lower() in _KUBECONFIG_SECRET_FIELDS:
                found.add(value)
            else:
                _walk_secrets(value, found)
    elif isinstance(node, list):
        for item in node:
            _walk_secrets(item, found)


def kubeconfig_paths(extra: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Kubeconfig files this process could use: explicit ones, $KUBECONFIG entries, ~/.kube/config."""
    paths = [Path(p) for p in extra if p]
    paths += [Path(p) for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    paths.append(Path.home() / ".kube" / "config")
    return paths


def known_secrets(kubeconfigs: Iterable[str | os.PathLike[str]] = (),
                  environ: Mapping[str, str] | None = None) -> set[str]:
    """Literal secret values: from kubeconfig files (token, key data, passwords) and secret-named variables."""
    import yaml

    found: set[str] = set()
    for path in kubeconfig_paths(kubeconfigs):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        try:
            _walk_secrets(yaml.safe_load(text), found)
        except yaml.YAMLError:
            pass
    for name, value in (os.environ if environ is None else environ).items():
        if _SECRET_ENV.search(name):
            found.add(value)
    return {s for s in found if len(s) >= MIN_LITERAL}


class Scrubber:
    """Apply the patterns and the literal secrets to text."""

    def __init__(self, literals: Iterable[str] = ()) -> None:
        self.literals = sorted({s for s in literals if len(s) >= MIN_LITERAL}, key=len, reverse=True)

    def text(self, text: str) -> str:
        for literal in self.literals:
            if literal in text:
                text = text.replace(literal, REDACTED)
        lowered = text.lower()
        if not any(word in lowered for word in _TRIGGER_WORDS):  # most texts: nothing credential-shaped here
            return text
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def value(self, value: Any) -> Any:
        """Scrub every string inside a JSON-like value."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value

    def tree(self, root: Path, skip: Iterable[str] = ()) -> list[Path]:
        """Scrub every text file under ``root`` in place; returns the files that had to be changed."""
        changed = []
        skipped = set(skip)
        for folder, _, names in os.walk(root):  # streamed: a run directory can hold tens of thousands of files
            for name in names:
                path = Path(folder, name)
                if name in skipped or path.suffix in (".pcap", ".png") or path.is_symlink() or not path.is_file():
                    continue
                if self._file(path):
                    changed.append(path)
        return sorted(changed)

    def _file(self, path: Path) -> bool:
        """Scrub one file chunk by chunk (a 50 MB checks.json is never in memory whole). A first read-only pass
        decides: files with nothing to remove (nearly all) and binary files are never rewritten."""
        try:
            with path.open("rb") as source:
                if not any(self.text(text) != text for text in (raw.decode("utf-8") for raw in _text_chunks(source))):
                    return False
        except UnicodeDecodeError:  # binary (pcap attachments): frames only, nothing of ours
            return False
        scratch = path.with_name(path.name + ".scrub")
        with path.open("rb") as source, scratch.open("w", encoding="utf-8") as out:
            for raw in _text_chunks(source):
                out.write(self.text(raw.decode("utf-8")))
        scratch.replace(path)
        return True


CHUNK = 1 << 20


def _text_chunks(handle: BinaryIO) -> Iterator[bytes]:
    """Chunks of about ``CHUNK`` bytes that end at a line break and never split a PEM block, so no pattern (nor a
    literal secret, which never spans lines) is cut in two."""
    pending = b""
    while True:
        block = handle.read(CHUNK)
        if not block:
            if pending:
                yield pending
            return
        pending += block
        cut = pending.rfind(b"\n") + 1
        opened = pending.rfind(b"-----BEGIN", 0, cut)
        if opened >= 0 and pending.find(b"-----END", opened, cut) < 0:
            cut = pending.rfind(b"\n", 0, opened) + 1  # keep the open PEM block with what follows
        if cut > 0:
            yield pending[:cut]
            pending = pending[cut:]


def default_scrubber(kubeconfigs: Iterable[str | os.PathLike[str]] = ()) -> Scrubber:
    return Scrubber(known_secrets(kubeconfigs))
