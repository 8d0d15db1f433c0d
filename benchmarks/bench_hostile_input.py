#!/usr/bin/env python3
"""Benchmark how fast hostile input is refused: YAML bombs, deep nesting, files over the size limit, endless
files, hostile and large Multus annotations (the cases of tests/test_fuzz.py, which asserts what is refused and how,
never how fast: timed tests are flaky on a loaded machine).

Prints, per case, the best and median time over ``--repeat`` runs and the peak-RSS growth of the first run, against
the budget the tests used to assert (10 s for a topology, 5 s for an endless file or an annotation). Exit status 0
when every case's best time is within its budget, else 1. Needs no root:
``python3 benchmarks/bench_hostile_input.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netattest.annotations import parse_network_status, parse_networks_annotation
from netattest.annotations.golike import MAX_ANNOTATION_BYTES
from netattest.errors import NetattestError
from netattest.topology import MAX_TOPOLOGY_BYTES, load_topology, load_topology_text

MACVLAN_ONLY = REPO / "topologies" / "macvlan-only.yaml"
BILLION_LAUGHS = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


def topology_text(text: str) -> Callable[[], object]:
    return lambda: load_topology_text(text, "bench.yaml")


def topology_file(data: bytes) -> Callable[[], object]:
    def load() -> object:
        with tempfile.NamedTemporaryFile(suffix=".yaml") as handle:
            handle.write(data)
            handle.flush()
            return load_topology(handle.name)
    return load


def annotation(value: str) -> Callable[[], object]:
    def parse() -> object:
        for parser in (lambda v: parse_networks_annotation(v, "multus-test"), parse_network_status):
            try:
                parser(value)
            except NetattestError:
                pass
        return None
    return parse


TOPOLOGY_BUDGET_S = 10.0
STREAM_BUDGET_S = 5.0  # endless files and annotations


def cases() -> dict[str, tuple[Callable[[], object], float]]:
    """Each case with its budget in seconds."""
    large_valid = json.dumps([{"name": "net1", "ips": [f"10.0.{i // 250}.{i % 250 + 1}/16" for i in range(3000)]}])
    topologies = {
        "billion laughs": topology_text(BILLION_LAUGHS),
        "merge-key bomb": topology_text("base: &b {x: 1}\n" + "".join(f"k{i}: {{<<: *b}}\n" for i in range(2000))),
        "flow nesting 100000": topology_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n"),
        "block nesting 600": topology_text("".join("  " * i + f"k{i}:\n" for i in range(600)) + "  " * 600 + "v\n"),
        "file over the limit": topology_file(MACVLAN_ONLY.read_bytes() + b"\n#" + b"x" * MAX_TOPOLOGY_BYTES),
        "many small keys": topology_text("apiVersion: netattest/v1\nkind: Topology\n"
                                         + "".join(f"k{i}: v\n" for i in range(MAX_TOPOLOGY_BYTES // 12))),
        "one huge scalar": topology_text("name: " + "x" * (MAX_TOPOLOGY_BYTES - 100) + "\n"),
    }
    streams = {
        "/dev/zero": lambda: load_topology("/dev/zero"),
        "/dev/urandom": lambda: load_topology("/dev/urandom"),
        "annotation over 64 KiB": annotation("x" * (MAX_ANNOTATION_BYTES + 1)),
        "annotation nested 30000": annotation("[" * 30_000 + "]" * 30_000),
        "annotation 5000 entries": annotation("[" + ",".join(['{"name": "net1"}'] * 5000) + "]"),
        "valid annotation, 3000 ips": annotation(large_valid),
    }
    return {**{name: (fn, TOPOLOGY_BUDGET_S) for name, fn in topologies.items()},
            **{name: (fn, STREAM_BUDGET_S) for name, fn in streams.items()}}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    try:
        fn()
    except NetattestError:
        pass
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'case':30} {'best s':>8} {'median s':>9} {'budget s':>9} {'RSS +MB':>8}")
    over = []
    for name, (fn, budget) in cases().items():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        times = [timed(fn)]
        growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
        times += [timed(fn) for _ in range(args.repeat - 1)]
        best = min(times)
        print(f"{name:30} {best:8.3f} {statistics.median(times):9.3f} {budget:9.0f} {growth:8.0f}")
        if best > budget:
            over.append(name)
    if over:
        print(f"over budget: {', '.join(over)}")
        return 1
    print("every case within its budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
