"""IPAM pools as the checks and the lab's whereabouts emulation see them, and NAD configs as Multus accepts them."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_network

import pytest

from netattest.ipam_pool import free_spans, ipam_pool, outside_pool
from netattest.k8s.validation import cni_config_problem
from netattest.lab.nads import whereabouts_as_host_local

A = IPv4Address


def test_exclusions_cut_the_range_into_spans() -> None:
    spans = free_spans(A("10.0.0.10"), A("10.0.0.20"), [ip_network("10.0.0.10/31"), ip_network("10.0.0.15/32")])
    assert spans == [(A("10.0.0.12"), A("10.0.0.14")), (A("10.0.0.16"), A("10.0.0.20"))]
    assert free_spans(A("10.0.0.1"), A("10.0.0.2"), [ip_network("10.0.0.0/30")]) == []


@pytest.mark.parametrize(("config", "inside", "outside"), [
    ({"range": "10.0.0.10-10.0.0.20/24", "exclude": ["10.0.0.15/32"]}, "10.0.0.16/24", "10.0.0.15/24"),
    ({"range": "10.0.0.0/24", "range_start": "10.0.0.50"}, "10.0.0.254/24", "10.0.0.49/24"),
    ({"range": "10.0.0.0/30"}, "10.0.0.2/30", "10.0.0.3/30"),  # the broadcast address is never handed out
])
def test_whereabouts_pool(config: dict, inside: str, outside: str) -> None:
    pool = ipam_pool("whereabouts", config)
    assert pool is not None and outside_pool([inside, outside], pool) == [outside]


def test_host_local_pool_both_forms() -> None:
    ranges = ipam_pool("host-local", {"ranges": [[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.0.10",
                                                   "rangeEnd": "10.0.0.20"}], [{"subnet": "10.0.1.0/24"}]]})
    assert ranges is not None and outside_pool(["10.0.0.9/24", "10.0.0.10/24", "10.0.1.254/24"], ranges) == [
        "10.0.0.9/24"]
    old = ipam_pool("host-local", {"subnet": "10.0.0.0/24", "rangeEnd": "10.0.0.5"})
    assert old is not None and old.describe() == "10.0.0.1-10.0.0.5"
    assert ipam_pool("static", {}) is None and ipam_pool("dhcp", {}) is None


def test_whereabouts_emulation_gives_host_local_the_same_spans() -> None:
    config = whereabouts_as_host_local({"range": "10.0.0.10-10.0.0.20/24", "exclude": ["10.0.0.15/32"],
                                        "gateway": "10.0.0.1"}, "/store")
    assert config["dataDir"] == "/store" and config["type"] == "host-local"
    assert [(r["rangeStart"], r["rangeEnd"]) for r in config["ranges"][0]] == [("10.0.0.10", "10.0.0.14"),
                                                                                ("10.0.0.16", "10.0.0.20")]
    assert all(r["subnet"] == "10.0.0.0/24" and r["gateway"] == "10.0.0.1" for r in config["ranges"][0])
    nothing = whereabouts_as_host_local({"range": "10.0.0.0/30", "exclude": ["10.0.0.0/30"]}, "/s")
    [[entry]] = nothing["ranges"]
    assert entry["rangeStart"] == entry["rangeEnd"] == entry["gateway"]  # host-local never gives the gateway out


@pytest.mark.parametrize(("config", "problem"), [
    ({"cniVersion": "0.4.0", "type": "macvlan"}, None),
    ({"cniVersion": "0.4.0", "name": "n", "plugins": [{"type": "macvlan"}, {"type": "tuning"}]}, None),
    ({"type": "macvlan"}, "lacks cniVersion"),
    ({"cniVersion": "0.4.0"}, "lacks type"),
    ({"cniVersion": "0.4.0", "name": "n", "plugins": []}, "not a non-empty list"),
    ({"cniVersion": "0.4.0", "name": "n", "plugins": [{"type": "macvlan"}, {"mac": "x"}]}, "plugins[1] lacks type"),
    ({"cniVersion": "0.4.0", "plugins": [{"type": "macvlan"}]}, "lacks name"),
])
def test_nad_configs_as_multus_accepts_them(config: dict, problem: str | None) -> None:
    found = cni_config_problem(config)
    assert (found is None) if problem is None else (found is not None and problem in found)
