"""Host limits a lab shares with the host, checked before building and watched during probing.

The kernel keeps *one* neighbour (ARP) table for all network namespaces, capped by the root namespace's
``gc_thresh3``. A probe window in which every member of a VLAN resolves every other member can fill it; targets
then drop ARP requests without answering, which would read as "no L2 path" for healthy pairs (and starve the host
and concurrent labs). Broadcast queues of macvlan masters drop frames silently at scale too. Both become a refusal
before the build, or a *broken* window — never a network failure.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from netattest.errors import LabError
from netattest.probe.netns import in_netns
from netattest.probe.readers import read_rx_dropped
from netattest.topology.model import Topology

GC_THRESH3 = Path("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
ARP_STATS = Path("/proc/net/stat/arp_cache")
HOST_HEADROOM = 256  # entries left for the host's own neighbours and concurrent labs


def neighbour_entries_needed(topology: Topology) -> int:
    """ARP entries a full probe window creates: every member of a VLAN learns every member that ARPs it."""
    sizes: Counter[str] = Counter()
    for pod in topology.pods:
        for net in pod.networks:
            attachment = topology.nad_of(pod, net)
            if attachment is not None:
                sizes[attachment.network] += 1
    for host in topology.external_hosts:
        sizes[host.network] += 1
    for node in topology.nodes:
        for nic in node.nics:
            if nic.address and nic.network:
                sizes[nic.network] += 1
    return sum(n * n for n in sizes.values())


def check_neighbour_capacity(topology: Topology) -> None:
    try:
        limit = int(GC_THRESH3.read_text())
    except (OSError, ValueError):
        return
    needed = neighbour_entries_needed(topology)
    if needed + HOST_HEADROOM > limit:
        want = 1 << (needed + HOST_HEADROOM).bit_length()
        raise LabError(
            f"{topology.source}: this lab's probe window needs about {needed} ARP entries, but the host's neighbour "
            f"table (shared by every network namespace) holds at most {limit} (net.ipv4.neigh.default.gc_thresh3); "
            "a full table makes healthy pairs look unreachable. Fix: sysctl -w "
            f"net.ipv4.neigh.default.gc_thresh2={want // 2} net.ipv4.neigh.default.gc_thresh3={want}, or split "
            "the topology")


def table_fulls() -> int:
    """How often the neighbour table was full (summed over CPUs, from /proc/net/stat/arp_cache)."""
    try:
        lines = ARP_STATS.read_text().split("\n")
    except OSError:
        return 0
    header = lines[0].split()
    if "table_fulls" not in header:
        return 0
    column = header.index("table_fulls")
    return sum(int(line.split()[column], 16) for line in lines[1:] if line.strip())


SOFTNET_STAT = Path("/proc/net/softnet_stat")


def backlog_drops(path: Path = SOFTNET_STAT) -> int:
    """Frames the kernel dropped because a CPU's input backlog (net.core.netdev_max_backlog) was full, summed over
    CPUs (second column of /proc/net/softnet_stat, hex). Every veth hop queues there, so a burst of probes can lose
    a who-has before it reaches its target: silence that proves nothing. Host-wide: a window during which anything on
    the host overflowed it is distrusted too (broken, never a false pass)."""
    try:
        lines = path.read_text().split("\n")
    except OSError:
        return 0
    total = 0
    for line in lines:
        fields = line.split()
        if len(fields) >= 2:
            try:
                total += int(fields[1], 16)
            except ValueError:
                continue
    return total


def rx_dropped(netns: str) -> int:
    """Frames the interfaces of namespace ``netns`` dropped on receive (macvlan broadcast queues, backlogs)."""
    with in_netns(netns):
        return read_rx_dropped()
