"""Benchmark the embedded lab: bring-up/teardown times, per-pod cost against its raw parts, leftovers.

Prints figures, asserts nothing about time (timed tests are flaky; ratios measured in one run are not):
  * seed-like topology (macvlan-only on this kernel) bring-up and teardown;
  * per-pod cost of the lab = (bring-up with N pods - bring-up with 0 pods) / N, medians of --repeat bring-ups,
    against the raw cost of the same work done by hand in the same run: create a namespace + run the plugin's ADD
    (target: at most 1.3x);
  * N-pod bring-up/teardown with a leftover count (namespaces of the run, run directory, root links).
Run as root: ``python benchmarks/bench_lab.py [--pods 100]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netattest.lab import cni
from netattest.lab.lab import Lab, run_namespaces
from netattest.lab.state import RunDir
from netattest.lab.wiring import create_netns
from netattest.runid import netns_name
from netattest.topology import load_topology, load_topology_text

BASE = REPO / "topologies" / "macvlan-only.yaml"


def with_pods(count: int) -> str:
    """The macvlan-only topology with its pods replaced by ``count`` macvlan pods spread over node1/node2."""
    text = BASE.read_text()
    head, rest = text.split("\npods:\n", 1)
    tail = rest[rest.index("\nexpectations:"):]
    pods = []
    for i in range(count):
        node = "node1" if i % 2 == 0 else "node2"
        ip = f"192.168.{113 + i // 250}.{i % 250 + 2}"
        pods.append(f"  - name: p{i}\n    namespace: multus-test\n"
                    f"    nodeSelector: {{kubernetes.io/hostname: {node}}}\n"
                    f"    networks: [{{attachment: net1-macvlan, interface: net1, ips: [{ip}/20]}}]")
    body = "\n".join(pods) if pods else "  []"
    text = head + "\npods:\n" + body + tail
    # widen the restricted VLAN so that hundreds of pods fit
    return text.replace("subnet: 192.168.112.0/24", "subnet: 192.168.112.0/20").replace(
        "192.168.112.1/24", "192.168.112.1/20")


def root_links() -> list[str]:
    listing = subprocess.run(["ip", "-o", "link"], check=False, capture_output=True, text=True).stdout
    return sorted(listing.split("\n"))


def timed_lab(text: str) -> tuple[float, float, int, Lab]:
    lab = Lab(load_topology_text(text, "bench.yaml"))
    start = time.perf_counter()
    lab.up()
    up = time.perf_counter() - start
    start = time.perf_counter()
    problems = lab.down()
    down = time.perf_counter() - start
    return up, down, len(problems), lab


def raw_pod_cost(count: int) -> float:
    """Seconds per pod for the bare work: create a namespace + macvlan/static ADD inside a node namespace."""
    lab = Lab(load_topology_text(with_pods(0), "raw.yaml"))
    lab.up()
    try:
        node = netns_name(lab.run_id, "node", "node1")
        start = time.perf_counter()
        for i in range(count):
            name = netns_name(lab.run_id, "pod", f"raw{i}")
            create_netns(name)  # the lab's own primitive: the baseline must not be slower than the lab
            config = {"cniVersion": "0.4.0", "name": "raw", "type": "macvlan", "master": "ens256",
                      "mode": "bridge",
                      "ipam": {"type": "static", "addresses": [{"address": f"10.9.{i // 250}.{i % 250 + 1}/16"}]}}
            cni.cni_add(cni.CniCall(config, node, name, "net1", f"raw-{i}"))
        return (time.perf_counter() - start) / count
    finally:
        lab.down()


NEIGH = [Path(f"/proc/sys/net/ipv4/neigh/default/gc_thresh{i}") for i in (2, 3)]


def main() -> int:
    """Raises the host's neighbour-table limits for the run (a 100-pod VLAN needs ~10k ARP entries, which the lab
    refuses to build without) and restores them afterwards."""
    saved = [p.read_text() for p in NEIGH]
    for path, value in zip(NEIGH, ("16384", "32768"), strict=True):
        path.write_text(value)
    try:
        return measure()
    finally:
        for path, value in zip(NEIGH, saved, strict=True):
            path.write_text(value)


def measure() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    links_before = root_links()

    seed = [timed_lab(BASE.read_text())[:2] for _ in range(args.repeat)]
    print(f"seed-like topology ({load_topology(BASE).name}: 3 nodes, 3 hosts, 7 pods), host kernel:")
    print(f"  bring-up  median {statistics.median(s[0] for s in seed):.3f} s")
    print(f"  teardown  median {statistics.median(s[1] for s in seed):.3f} s")

    # Each round measures the empty lab, the full lab and the raw work back to back, so that the ratio compares
    # figures taken under the same load (other work on the machine moves them all together).
    rounds = []
    for _ in range(args.repeat):
        empty_up = timed_lab(with_pods(0))[0]
        full = timed_lab(with_pods(args.pods))
        rounds.append((empty_up, full, raw_pod_cost(args.pods)))
    up, down = statistics.median(r[1][0] for r in rounds), statistics.median(r[1][1] for r in rounds)
    problems, lab = sum(r[1][2] for r in rounds), rounds[-1][1][3]
    per_pods = [(full[0] - empty_up) / args.pods for empty_up, full, _ in rounds]
    per_pod, raw = statistics.median(per_pods), statistics.median(r[2] for r in rounds)
    ratio = statistics.median(p / r[2] for p, r in zip(per_pods, rounds, strict=True))
    leftovers = len(run_namespaces(lab.run_id)) + int(RunDir(lab.run_id).path.exists())
    print(f"{args.pods}-pod lab:")
    print(f"  bring-up median {up:.2f} s, teardown median {down:.2f} s, teardown problems {problems}, "
          f"leftovers {leftovers}")
    print(f"  per-pod cost {per_pod * 1000:.1f} ms vs raw netns+ADD {raw * 1000:.1f} ms: ratio {ratio:.2f}x "
          f"(median of {args.repeat} rounds: "
          f"{', '.join(f'{p / r[2]:.2f}' for p, r in zip(per_pods, rounds, strict=True))}; "
          "target <= 1.3x)")
    root_clean = root_links() == links_before
    print(f"  root namespace links unchanged: {root_clean}")
    print(json.dumps({"seed_up_s": statistics.median(s[0] for s in seed), "pods": args.pods, "up_s": up,
                      "down_s": down, "per_pod_ms": per_pod * 1000, "raw_ms": raw * 1000,
                      "ratio": ratio, "leftovers": leftovers, "root_clean": root_clean}))
    return 0 if leftovers == 0 and root_clean else 1


if __name__ == "__main__":
    sys.exit(main())
