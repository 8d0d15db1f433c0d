"""Benchmark the whole main job: ``netattest run`` end to end, with baselines measured in the same run.

  * macvlan-only topology on the host kernel (target: <= 30 s), against the bare cost of starting a pytest
    session that collects the suites (``--collect-only``);
  * the seed topology inside the kernel sandbox (target: <= 3 min), against one sandbox boot running ``true``.
Run as root from the repository: ``python benchmarks/bench_run.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netattest.sandbox.uml import run_in_sandbox  # noqa: E402


def timed(argv: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode


def main() -> int:
    reports = tempfile.mkdtemp(prefix="netattest-bench-")
    run = [sys.executable, "-m", "netattest.cli", "run", "--reports-dir", reports]
    collect, _ = timed([sys.executable, "-m", "pytest", "suites", "--collect-only", "-q", "-p", "no:cacheprovider",
                        "--topology", "topologies/macvlan-only.yaml", "--reports-dir", reports])
    host, host_rc = timed(run + ["--topology", "topologies/macvlan-only.yaml"])
    start = time.perf_counter()
    with open("/dev/null", "w") as sink:
        run_in_sandbox(["true"], cwd=REPO, writable=[Path(reports)], stdout=sink)
    boot = time.perf_counter() - start
    uml, uml_rc = timed(run + ["--topology", "topologies/restricted-vlan.yaml"])
    print(f"netattest run, macvlan-only, host kernel: {host:6.1f} s (exit {host_rc}); baseline pytest collect "
          f"{collect:.1f} s -> {host / collect:.1f}x; target <= 30 s")
    print(f"netattest run, seed, kernel sandbox:      {uml:6.1f} s (exit {uml_rc}); baseline sandbox boot "
          f"{boot:.1f} s -> {uml / boot:.1f}x; target <= 180 s")
    return 0 if host_rc == uml_rc == 0 and host <= 30 and uml <= 180 else 1


if __name__ == "__main__":
    sys.exit(main())
