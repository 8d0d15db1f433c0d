#!/usr/bin/env python3
"""Run the benchmarks and write their headline lines into README.md, with the date and the machine they ran on.

    sudo python3 benchmarks/readme_figures.py            # all of them (~10 minutes on 2 cores)
    sudo python3 benchmarks/readme_figures.py --dry-run  # print the block instead of writing it

The README's figures are never typed by hand: this script copies each benchmark's own summary lines (the ones it
prints for people) between the ``<!-- figures:begin -->`` and ``<!-- figures:end -->`` markers. Run it on a fresh
clone of main on a quiet machine; the block says where and when it was measured.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"

#: (command, the lines of its output that are its headline figures)
BENCHMARKS: tuple[tuple[list[str], str], ...] = (
    (["benchmarks/bench_run.py", "--runs", "5"],
     r"^(phase|host side|sandbox boot|startup|pre-flight|lab build|inventory|neighbour discovery|probe setup|"
     r"probe window|suites|teardown|evidence|exit|wall|pytest session|seed in the sandbox|macvlan-only on the host)"),
    (["benchmarks/bench_probe.py"], r"^(raw ceiling|engine, records|engine, no recs|targets)"),
    (["benchmarks/bench_lab.py"], r"^(seed-like|  bring-up|  teardown|100-pod|  per-pod)"),
    (["benchmarks/bench_isolation.py"], r"^(topology|before|after|growth|sweep of)"),
    (["benchmarks/bench_isolation.py", "--sandbox"], r"^(topology|before|after|growth|sweep of)"),
    (["benchmarks/bench_scale.py", "--nodes", "10", "--pods", "100"],
     r"^(scale lab|  bring-up|  teardown|  peak RSS|  matrix|  verdicts|TARGETS|netattest run \(whole)"),
    (["benchmarks/bench_scale.py", "--cli", "skip"],
     r"^(scale lab|  bring-up|  teardown|  peak RSS|  matrix|  verdicts|TARGETS)"),
)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")))
    release = Path("/etc/os-release").read_text()
    distro = re.search(r'PRETTY_NAME="([^"]+)"', release)
    return (f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB, "
            f"{distro.group(1) if distro else platform.system()}, kernel {platform.release()}, "
            f"Python {platform.python_version()}")


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=False).stdout.strip() or "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    today = datetime.date.today().isoformat()
    out = [BEGIN, "", f"Measured {today} on commit {commit()}: {machine()}. Regenerate with "
                      "`sudo python3 benchmarks/readme_figures.py`.", ""]
    for argv, wanted in BENCHMARKS:
        print(f"== {' '.join(argv)}", flush=True)
        proc = subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True, check=False)
        lines = [line.rstrip() for line in proc.stdout.splitlines() if re.match(wanted, line)]
        out += [f"`python3 {' '.join(argv)}` (exit {proc.returncode}):", "", "```", *lines, "```", ""]
    out.append(END)
    block = "\n".join(out)
    if args.dry_run:
        print(block)
        return 0
    text = README.read_text()
    if BEGIN not in text or END not in text:
        print(f"README.md has no {BEGIN} ... {END} block", file=sys.stderr)
        return 2
    head, rest = text.split(BEGIN, 1)
    README.write_text(head + block + rest.split(END, 1)[1])
    print(f"README.md: figures of {today} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
