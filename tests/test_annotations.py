"""Tests for netattest.annotations: the Multus networks and network-status annotations.

The CNI results below are literal copies of what the Debian containernetworking-plugins 1.1.1 binaries print
(macvlan captured from /usr/lib/cni/macvlan + static IPAM in a throwaway netns; ipvlan reconstructed from the
plugin source because this kernel refuses ipvlan links), so the statuses are checked against real shapes.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netattest.annotations import (
    NETWORK_STATUS_ANNOTATION,
    NETWORKS_ANNOTATION,
    NetworkSelection,
    NetworkStatus,
    parse_network_status,
    parse_networks_annotation,
    render_network_status,
    render_networks_annotation,
)
from netattest.annotations.golike import MAX_ANNOTATION_BYTES
from netattest.errors import AnnotationError, NetattestError
from netattest.lab.cni_status import network_status_from_cni_result, network_statuses_from_cni_result

# ---------------------------------------------------------------------------------------------------------------
# Real plugin output (containernetworking-plugins 1.1.1), static IPAM config:
#   {"type": "static", "addresses": [{"address": "192.168.112.11/24", "gateway": "192.168.112.1"},
#                                    {"address": "fd00:112::11/64"}],
#    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.10.0.0/16", "gw": "192.168.112.254"}],
#    "dns": {"nameservers": ["192.168.112.53"], "domain": "lab.local", "search": ["lab.local"]}}
# Note what the real binaries do: macvlan reports "dns": {} (it copies the top-level "dns", not IPAM's), and a
# route without "gw" stays without "gw".

MACVLAN_1_0_0: dict[str, Any] = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "net1", "mac": "de:74:a7:bd:d5:9a", "sandbox": "/var/run/netns/tmp-na-pod"}],
    "ips": [
        {"interface": 0, "address": "192.168.112.11/24", "gateway": "192.168.112.1"},
        {"interface": 0, "address": "fd00:112::11/64"},
    ],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.10.0.0/16", "gw": "192.168.112.254"}],
    "dns": {},
}

MACVLAN_0_4_0: dict[str, Any] = {
    "cniVersion": "0.4.0",
    "interfaces": [{"name": "net1", "mac": "9a:0d:83:bf:1b:54", "sandbox": "/var/run/netns/tmp-na-pod"}],
    "ips": [
        {"version": "4", "interface": 0, "address": "192.168.112.11/24", "gateway": "192.168.112.1"},
        {"version": "6", "interface": 0, "address": "fd00:112::11/64"},
    ],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.10.0.0/16", "gw": "192.168.112.254"}],
    "dns": {},
}

# ipvlan 1.1.1 createIpvlan(): one interface, Mac re-read from the new link (an ipvlan slave carries its master's
# MAC, here the master m0 = 7e:f7:e0:3b:25:7e), Sandbox = netns path; every IP gets "interface": 0.
IPVLAN_1_0_0: dict[str, Any] = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "net2", "mac": "7e:f7:e0:3b:25:7e", "sandbox": "/var/run/netns/tmp-na-pod"}],
    "ips": [{"interface": 0, "address": "192.168.112.12/24", "gateway": "192.168.112.1"}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "192.168.112.1"}],
    "dns": {"nameservers": ["192.168.112.53"], "search": ["lab.local"]},
}

# bridge-style result: host bridge and host veth (no sandbox) before the container veth, IP indexed to it.
BRIDGE_1_0_0: dict[str, Any] = {
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "cni0", "mac": "36:c0:a8:00:00:01"},
        {"name": "veth1a2b3c4d", "mac": "ae:11:22:33:44:55"},
        {"name": "net3", "mac": "0a:58:0a:01:00:05", "sandbox": "/var/run/netns/pod"},
    ],
    "ips": [{"interface": 2, "address": "10.1.0.5/24", "gateway": "10.1.0.1"}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}],
    "dns": {},
}

# A network-status annotation written by a real Multus (k8snetworkplumbingwg/multus-cni issue #1089).
REAL_STATUS = """[{
    "name": "cbr0",
    "interface": "eth0",
    "ips": [
        "10.244.0.148"
    ],
    "mac": "82:74:72:57:4b:bd",
    "default": true,
    "dns": {},
    "gateway": [
        "10.244.0.1"
    ]
},{
    "name": "default/macvlan-conf-1",
    "interface": "net1",
    "ips": [
        "10.10.1.33"
    ],
    "mac": "a6:70:19:1e:c9:01",
    "dns": {}
}]"""

# Another real one (multus-cni issue #648): empty name, statuses without interface or ips.
REAL_STATUS_SPARSE = """[{
    "name": "",
    "ips": [
        "10.118.207.24"
    ],
    "default": true,
    "dns": {}
},{
    "name": "blah/sriov-egress1",
    "interface": "egress1",
    "dns": {}
}]"""


def test_annotation_keys() -> None:
    assert NETWORKS_ANNOTATION == "k8s.v1.cni.cncf.io/networks"
    assert NETWORK_STATUS_ANNOTATION == "k8s.v1.cni.cncf.io/network-status"


# ---------------------------------------------------------------------------------------------------------------
# networks annotation: short form


def test_short_form_all_shapes_and_namespace_default() -> None:
    got = parse_networks_annotation("macvlan-conf, other/ipvlan-conf ,vlan100@eth1,  lab/br-net@net9", "team-a")
    assert got == [
        NetworkSelection("macvlan-conf", "team-a"),
        NetworkSelection("ipvlan-conf", "other"),
        NetworkSelection("vlan100", "team-a", interface="eth1"),
        NetworkSelection("br-net", "lab", interface="net9"),
    ]


def test_short_form_trims_whitespace_around_every_part() -> None:
    # parsePodNetworkObjectName trims the namespace, the name and the interface separately.
    got = parse_networks_annotation(" lab / macvlan-conf @ net1 \t", "default")
    assert got == [NetworkSelection("macvlan-conf", "lab", interface="net1")]


def test_empty_annotation_means_no_networks() -> None:
    assert parse_networks_annotation("", "default") == []


def test_same_network_twice_is_allowed_without_interfaces() -> None:
    got = parse_networks_annotation("macvlan-conf,macvlan-conf", "default")
    assert got == [NetworkSelection("macvlan-conf", "default")] * 2


def test_qualified_name_is_what_network_status_uses() -> None:
    assert parse_networks_annotation("macvlan-conf", "lab")[0].qualified_name == "lab/macvlan-conf"


# ---------------------------------------------------------------------------------------------------------------
# networks annotation: JSON form


def test_json_form_with_ips_mac_interface_and_default_route() -> None:
    value = json.dumps(
        [
            {
                "name": "macvlan-conf",
                "interface": "net1",
                "ips": ["192.168.112.11/24", "fd00:112::11/64"],
                "mac": "02:00:00:00:01:0b",
                "default-route": ["192.168.112.1"],
            },
            {"name": "ipvlan-conf", "namespace": "infra", "ips": ["10.0.0.7"]},
        ]
    )
    assert parse_networks_annotation(value, "lab") == [
        NetworkSelection(
            "macvlan-conf",
            "lab",
            interface="net1",
            ips=("192.168.112.11/24", "fd00:112::11/64"),
            mac="02:00:00:00:01:0b",
            default_route=("192.168.112.1",),
        ),
        # Multus accepts a plain address in "ips" as well as a CIDR.
        NetworkSelection("ipvlan-conf", "infra", ips=("10.0.0.7",)),
    ]


def test_json_form_ignores_unknown_keys_and_nulls_like_go() -> None:
    value = (
        '[{"name": "m", "namespace": null, "cni-args": {"vlan": 100}, "portMappings": [], '
        '"bandwidth": {"ingressRate": 1}, "deviceID": "0000:3b:00.1", "x-future": [1, {"y": 2}]}]'
    )
    assert parse_networks_annotation(value, "lab") == [NetworkSelection("m", "lab")]


def test_json_form_accepts_deprecated_interface_request_and_go_case_folding() -> None:
    # multus-cni keeps "interfaceRequest" (pre 3.2); encoding/json matches keys case-insensitively.
    got = parse_networks_annotation('[{"Name": "m", "interfaceRequest": "net5"}]', "lab")
    assert got == [NetworkSelection("m", "lab", interface="net5")]
    got = parse_networks_annotation('[{"name": "m", "interface": "net1", "interfaceRequest": "net5"}]', "lab")
    assert got[0].interface == "net1"


def test_json_form_allows_dotted_nad_names_that_short_form_cannot_express() -> None:
    assert parse_networks_annotation('[{"name": "vlan.100"}]', "lab") == [NetworkSelection("vlan.100", "lab")]


def test_json_null_and_empty_list_mean_no_networks() -> None:
    assert parse_networks_annotation("[]", "lab") == []
    assert parse_networks_annotation(" [ ] ", "lab") == []


# ---------------------------------------------------------------------------------------------------------------
# networks annotation: render / round trip


def test_render_omits_the_pod_namespace_and_round_trips() -> None:
    selections = [
        NetworkSelection(
            "macvlan-conf", "lab", interface="net1", ips=("192.168.112.11/24",), mac="02:00:00:00:00:01"
        ),
        NetworkSelection("ipvlan-conf", "infra", default_route=("192.168.112.1", "fd00::1")),
        NetworkSelection("vlan.100", "lab"),
    ]
    text = render_networks_annotation(selections, "lab")
    assert json.loads(text) == [
        {"name": "macvlan-conf", "interface": "net1", "ips": ["192.168.112.11/24"], "mac": "02:00:00:00:00:01"},
        {"name": "ipvlan-conf", "namespace": "infra", "default-route": ["192.168.112.1", "fd00::1"]},
        {"name": "vlan.100"},
    ]
    assert parse_networks_annotation(text, "lab") == selections


def test_render_refuses_duplicate_interfaces() -> None:
    sel = NetworkSelection("a", "lab", interface="net1")
    with pytest.raises(AnnotationError, match="interface 'net1' twice"):
        render_networks_annotation([sel, NetworkSelection("b", "lab", interface="net1")], "lab")


def test_selection_constructor_validates() -> None:
    with pytest.raises(AnnotationError, match="mac 'nope' is invalid"):
        NetworkSelection("a", "lab", mac="nope")
    assert NetworkSelection("a", "lab", ips=["10.0.0.1/8"]).ips == ("10.0.0.1/8",)  # type: ignore[arg-type]
    hash(NetworkSelection("a", "lab"))


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_ifname = st.from_regex(r"[a-zA-Z0-9_.-]{1,15}", fullmatch=True).filter(lambda s: s not in (".", ".."))
_ipv4 = st.ip_addresses(v=4).map(str)
_selection = st.builds(
    NetworkSelection,
    name=st.one_of(_label, st.builds(lambda a, b: f"{a}.{b}", _label, _label)),
    namespace=st.sampled_from(["lab", "infra", "kube-system"]),
    interface=st.none(),
    ips=st.lists(st.one_of(_ipv4, st.builds(lambda a, p: f"{a}/{p}", _ipv4, st.integers(0, 32))), max_size=3)
    .map(tuple),
    mac=st.one_of(st.none(), st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))),
    default_route=st.lists(st.ip_addresses().map(str), max_size=2).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_selection, st.one_of(st.none(), _ifname)), max_size=5))
def test_render_parse_round_trip_property(pairs: list[tuple[NetworkSelection, str | None]]) -> None:
    seen: set[str] = set()
    selections = []
    for sel, ifname in pairs:
        if ifname is not None and ifname not in seen:
            seen.add(ifname)
            sel = NetworkSelection(sel.name, sel.namespace, ifname, sel.ips, sel.mac, sel.default_route)
        selections.append(sel)
    assert parse_networks_annotation(render_networks_annotation(selections, "lab"), "lab") == selections


# ---------------------------------------------------------------------------------------------------------------
# networks annotation: rejections (every message is one line, quotes the piece and names the accepted form)

_SHORT = "expected [namespace/]name[@interface], comma separated, or a JSON list of objects"

BAD_NETWORKS = [
    ("a/b/c", f"networks annotation entry 1 'a/b/c': more than one '/'; {_SHORT}"),
    ("ok, x@y@z", f"networks annotation entry 2 'x@y@z': more than one '@'; {_SHORT}"),
    ("Macvlan", "entry 1 'Macvlan': network name 'Macvlan' must be lowercase letters, digits and '-'"),
    ("lab_ns/net", "entry 1 'lab_ns/net': namespace 'lab_ns' must be lowercase letters"),
    ("a,,b", f"networks annotation entry 2 is empty; {_SHORT}"),
    ("a,", f"networks annotation entry 2 is empty; {_SHORT}"),
    ("/net", "entry 1 '/net': empty namespace before '/'"),
    ("net@", "entry 1 'net@': empty interface after '@'"),
    ("net@eth0123456789abc", "interface 'eth0123456789abc' is not a valid Linux interface name: expected 1-15"),
    ("net@a:b", "interface 'a:b' is not a valid Linux interface name"),
    ("a@net1, b@net1", "requests interface 'net1' twice (default/a and default/b); expected each interface"),
    ("{not json", f"networks annotation is not valid JSON (Expecting property name enclosed in double quotes "
                  f"at character 1); {_SHORT}"),
    ('{"name": "a"}', f"networks annotation JSON is an object, not a list; {_SHORT}"),
    ('["a"]', "networks annotation entry 1 'a' is a string, not an object"),
    ("[null]", "networks annotation entry 1 'null' is null, not an object"),
    ('[{"namespace": "x"}]', "missing the string 'name' key"),
    ('[{"name": 7}]', "'name' must be a string, got number"),
    ('[{"name": "a", "ips": "10.0.0.1/24"}]', "ips '10.0.0.1/24' is not a list of strings"),
    ('[{"name": "a", "ips": ["10.0.0.300/24"]}]', "ip '10.0.0.300/24' is invalid: expected an address/prefix"),
    ('[{"name": "a", "ips": ["10.0.0.1/255.255.255.0"]}]', "ip '10.0.0.1/255.255.255.0' is invalid"),
    ('[{"name": "a", "mac": "02:00:00:00:00"}]', "mac '02:00:00:00:00' is invalid: expected a MAC address"),
    ('[{"name": "a", "default-route": ["10.0.0.1/24"]}]', "default-route gateway '10.0.0.1/24' is invalid"),
    ('[{"name": "a", "interface": "has space"}]', "interface 'has space' is not a valid Linux interface name"),
    ('[{"name": "a", "cni-args": [1]}]', "'cni-args' must be an object, got list"),
    ('[{"name": "a", "ips": [NaN]}]', "networks annotation is not valid JSON (NaN is not JSON)"),
    ("[" * 50000, "networks annotation is nested too deeply"),
    ("x" * (MAX_ANNOTATION_BYTES + 1), "networks annotation is larger than 64 KiB"),
    ("é" * (MAX_ANNOTATION_BYTES // 2 + 1), "networks annotation is larger than 64 KiB"),
    ("line\nbreak", "entry 1 'line\\nbreak': network name 'line\\nbreak' must be lowercase"),
]


@pytest.mark.parametrize(("value", "message"), BAD_NETWORKS, ids=[repr(v[:20]) for v, _ in BAD_NETWORKS])
def test_bad_networks_annotation(value: str, message: str) -> None:
    with pytest.raises(AnnotationError) as info:
        parse_networks_annotation(value, "default")
    text = str(info.value)
    assert message in text
    assert "\n" not in text and "expected" in text
    assert isinstance(info.value, NetattestError)


def test_bad_pod_namespace_and_non_string() -> None:
    with pytest.raises(AnnotationError, match="pod namespace 'Bad_NS' is invalid"):
        parse_networks_annotation("a", "Bad_NS")
    with pytest.raises(AnnotationError, match="must be a string, got bytes"):
        parse_networks_annotation(b"a", "lab")  # type: ignore[arg-type]


def test_long_offending_piece_is_cut_in_the_message() -> None:
    with pytest.raises(AnnotationError) as info:
        parse_networks_annotation("a/" + "B" * 500, "lab")
    assert len(str(info.value)) < 400 and "..." in str(info.value)


# ---------------------------------------------------------------------------------------------------------------
# network-status from real CNI results (CreateNetworkStatus / CreateNetworkStatuses)


def test_status_from_macvlan_1_0_0_static() -> None:
    status = network_status_from_cni_result("lab/macvlan-conf", "net1", MACVLAN_1_0_0)
    assert status == NetworkStatus(
        name="lab/macvlan-conf",
        interface="net1",
        ips=("192.168.112.11", "fd00:112::11"),
        mac="de:74:a7:bd:d5:9a",
        default=False,
        dns={},
        # isDefaultRoute matched {"dst": "0.0.0.0/0"} and Go printed its nil gw as "<nil>".
        gateway=("<nil>",),
    )


def test_status_from_macvlan_0_4_0_matches_1_0_0_shape() -> None:
    status = network_status_from_cni_result("lab/macvlan-conf", "net1", MACVLAN_0_4_0)
    assert status.ips == ("192.168.112.11", "fd00:112::11")
    assert status.mac == "9a:0d:83:bf:1b:54" and status.interface == "net1"


def test_status_from_ipvlan_1_0_0_static() -> None:
    status = network_status_from_cni_result("lab/ipvlan-conf", "net2", IPVLAN_1_0_0)
    assert status.interface == "net2"
    assert status.mac == "7e:f7:e0:3b:25:7e"  # ipvlan reports a MAC: the master's
    assert status.ips == ("192.168.112.12",)
    assert status.gateway == ("192.168.112.1",)
    assert dict(status.dns) == {"nameservers": ("192.168.112.53",), "search": ("lab.local",)}


def test_status_from_multi_interface_result_uses_the_sandbox_interface_and_its_ips() -> None:
    statuses = network_statuses_from_cni_result("lab/br", BRIDGE_1_0_0)
    assert [s.interface for s in statuses] == ["net3"]
    status = network_status_from_cni_result("lab/br", "net3", BRIDGE_1_0_0, default=True)
    assert status.ips == ("10.1.0.5",) and status.mac == "0a:58:0a:01:00:05"
    assert status.default is True and status.gateway == ("10.1.0.1",)


def test_multi_interface_ips_follow_their_index_and_unindexed_go_last() -> None:
    result = {
        "cniVersion": "1.0.0",
        "interfaces": [
            {"name": "net1", "sandbox": "/ns"},
            {"name": "host0"},
            {"name": "net2", "mac": "02:00:00:00:00:02", "sandbox": "/ns"},
        ],
        "ips": [
            {"interface": 2, "address": "10.2.0.2/24"},
            {"interface": 0, "address": "10.1.0.2/24", "gateway": "10.1.0.1"},
            {"address": "10.9.0.9/24"},
            {"interface": 7, "address": "10.7.0.7/24"},  # dangling index: Multus drops it
        ],
        "routes": [{"dst": "::/0", "gw": "fd00::1"}],
    }
    first, second = network_statuses_from_cni_result("lab/multi", result, default=True)
    assert (first.interface, first.ips, first.default) == ("net1", ("10.1.0.2",), True)
    assert (second.interface, second.ips, second.default) == ("net2", ("10.2.0.2", "10.9.0.9"), False)
    assert first.gateway == second.gateway == ("fd00::1",)
    assert network_status_from_cni_result("lab/multi", "net2", result).mac == "02:00:00:00:00:02"


def test_single_interface_without_sandbox_gives_an_interfaceless_status_but_cannot_be_picked() -> None:
    result = {"cniVersion": "1.0.0", "interfaces": [{"name": "host0"}], "ips": [{"address": "10.0.0.2/24"}]}
    (status,) = network_statuses_from_cni_result("lab/x", result)
    assert status.interface == "" and status.ips == ("10.0.0.2",)
    with pytest.raises(AnnotationError, match="no container interface named 'net1'"):
        network_status_from_cni_result("lab/x", "net1", result)


def test_ipv4_mapped_and_legacy_0_2_0_results() -> None:
    mapped = {"interfaces": [{"name": "net1", "sandbox": "/ns"}], "ips": [{"address": "::ffff:10.0.0.5/120"}]}
    assert network_status_from_cni_result("lab/x", "net1", mapped).ips == ("10.0.0.5",)  # Go prints it dotted
    legacy = {"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.5/24", "gateway": "10.0.0.1"}}
    assert network_statuses_from_cni_result("lab/x", legacy) == []  # no interfaces: Multus records nothing
    with pytest.raises(AnnotationError, match="interfaces with a sandbox: none"):
        network_status_from_cni_result("lab/x", "net1", legacy)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ("not a dict", "result 'not a dict' is not an object"),
        ({"interfaces": {"name": "x"}}, "'interfaces' '{\"name\": \"x\"}' is not a list of objects"),
        ({"interfaces": [{"name": 5}]}, "interface 'name' '5' is not a string"),
        ({"ips": [{"address": "10.0.0.1"}]}, "ip 'address' '10.0.0.1' is not an address/prefix"),
        ({"ips": [{"address": "10.0.0.1/24", "interface": "0"}]}, "ip 'interface' '0' is not an integer index"),
        ({"routes": [{"dst": "default"}]}, "route 'dst' 'default' is not an address/prefix"),
        ({"routes": [{"dst": "0.0.0.0/0", "gw": "x"}]}, "route 'gw' 'x' is not an IP address"),
        ({"dns": ["8.8.8.8"]}, "'dns' '[\"8.8.8.8\"]' is not an object"),
    ],
)
def test_bad_cni_results(result: Any, message: str) -> None:
    with pytest.raises(AnnotationError) as info:
        network_status_from_cni_result("lab/x", "net1", result)
    assert message in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------------------------
# network-status render / parse


def test_render_matches_multus_bytes_for_a_real_annotation() -> None:
    statuses = parse_network_status(REAL_STATUS)
    assert statuses[0] == NetworkStatus(
        "cbr0", "eth0", ("10.244.0.148",), "82:74:72:57:4b:bd", default=True, gateway=("10.244.0.1",)
    )
    assert statuses[1].name == "default/macvlan-conf-1" and statuses[1].default is False
    assert render_network_status(statuses) == REAL_STATUS


def test_sparse_real_annotation_round_trips() -> None:
    statuses = parse_network_status(REAL_STATUS_SPARSE)
    assert statuses[0].name == "" and statuses[0].interface == "" and statuses[0].mac is None
    assert statuses[1].ips == ()
    assert render_network_status(statuses) == REAL_STATUS_SPARSE


def test_render_from_macvlan_result_is_go_marshal_indent() -> None:
    status = network_status_from_cni_result("lab/macvlan-conf", "net1", MACVLAN_1_0_0)
    # Go's encoder escapes '<' and '>' even inside strings, so the nil gateway appears as \u003cnil\u003e.
    assert render_network_status([status]) == (
        "[{\n"
        '    "name": "lab/macvlan-conf",\n'
        '    "interface": "net1",\n'
        '    "ips": [\n'
        '        "192.168.112.11",\n'
        '        "fd00:112::11"\n'
        "    ],\n"
        '    "mac": "de:74:a7:bd:d5:9a",\n'
        '    "dns": {},\n'
        '    "gateway": [\n'
        '        "\\u003cnil\\u003e"\n'
        "    ]\n"
        "}]"
    )
    assert parse_network_status(render_network_status([status])) == [status]


def test_render_dns_mtu_device_info_in_go_field_order() -> None:
    status = NetworkStatus(
        name="lab/sriov",
        interface="net1",
        ips=("10.0.0.2",),
        mac="02:00:00:00:00:09",
        default=True,
        dns={"options": ["ndots:2"], "domain": "lab.local", "nameservers": ["10.0.0.53"], "junk": 1},
        gateway=("10.0.0.1",),
        mtu=9000,
        device_info={"type": "pci", "version": "1.0.0", "pci": {"pci-address": "0000:3b:02.1"}},
    )
    data = json.loads(render_network_status([status]))[0]
    assert list(data) == ["name", "interface", "ips", "mac", "mtu", "default", "dns", "device-info", "gateway"]
    assert list(data["dns"]) == ["nameservers", "domain", "options"]
    assert parse_network_status(render_network_status([status])) == [status]


def test_render_empty_and_parse_empty() -> None:
    assert render_network_status([]) == "[]"
    assert parse_network_status("[]") == [] and parse_network_status("null") == []


def test_parse_status_ignores_unknown_keys_and_folds_case() -> None:
    got = parse_network_status('[{"Name": "lab/x", "INTERFACE": "net1", "extra": {"a": [1]}, "mac": null}]')
    assert got == [NetworkStatus("lab/x", "net1", (), None)]


_STATUS_EXPECTED = "expected a JSON list of objects with a string 'name', as Multus writes"

BAD_STATUS = [
    ("", f"network-status annotation is not valid JSON (Expecting value at character 0); {_STATUS_EXPECTED}"),
    ('{"name": "x"}', f"network-status annotation JSON is an object, not a list; {_STATUS_EXPECTED}"),
    ("[1]", "network-status entry 1 '1' is a number, not an object"),
    ('[{"interface": "net1"}]', "network-status entry 1 '{\"interface\": \"net1\"}': missing the string 'name'"),
    ('[{"name": "x", "ips": ["10.0.0.1/24"]}]', "ip '10.0.0.1/24' is invalid: expected a bare address"),
    ('[{"name": "x", "ips": "10.0.0.1"}]', "ips '10.0.0.1' is not a list of strings"),
    ('[{"name": "x", "default": "true"}]', "'default' must be true or false, got string"),
    ('[{"name": "x", "dns": []}]', "'dns' must be an object, got list"),
    ('[{"name": "x", "dns": {"nameservers": "8.8.8.8"}}]', "dns nameservers '8.8.8.8' is not a list of strings"),
    ('[{"name": "x", "gateway": ["gw"]}]', "gateway 'gw' is invalid: expected a bare IP address"),
    ('[{"name": "x", "mtu": 1.5}]', "'mtu' must be an integer, got number"),
    ('[{"name": "x", "device-info": ' + "[" * 40 + "]" * 40 + "}]", "'device-info' must be an object, got list"),
    ('[{"name": "x", "device-info": ' + '{"a":' * 40 + "1" + "}" * 40 + "}]", "nested deeper than 32 levels"),
]


@pytest.mark.parametrize(("value", "message"), BAD_STATUS, ids=[repr(v[:20]) for v, _ in BAD_STATUS])
def test_bad_network_status(value: str, message: str) -> None:
    with pytest.raises(AnnotationError) as info:
        parse_network_status(value)
    assert message in str(info.value)
    assert "\n" not in str(info.value) and "expected" in str(info.value)


def test_status_is_frozen_and_hashable() -> None:
    status = network_status_from_cni_result("lab/macvlan-conf", "net1", MACVLAN_1_0_0)
    with pytest.raises(AttributeError):
        status.interface = "eth0"  # type: ignore[misc]
    with pytest.raises(TypeError):
        status.dns["domain"] = "x"  # type: ignore[index]
    assert len({status, status}) == 1


# ---------------------------------------------------------------------------------------------------------------
# property: arbitrary text never raises anything but AnnotationError

_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(["name", "namespace", "interface", "ips", "mac", "default-route", "dns", "gateway",
                             "default", "mtu", "device-info", "Name", "cni-args", "x"]),
            children,
            max_size=6,
        ),
    ),
    max_leaves=25,
)
_texty = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from(list('abc/@, \t"[]{}:.-0123456789né\n\x00')), max_size=120),
    _json_values.map(json.dumps),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texty, st.sampled_from(["default", "lab"]))
def test_parsers_only_ever_raise_annotation_error(value: str, namespace: str) -> None:
    for parse in (lambda v: parse_networks_annotation(v, namespace), parse_network_status):
        try:
            parse(value)
        except AnnotationError as exc:
            assert "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(_json_values)
def test_cni_result_conversion_only_ever_raises_annotation_error(result: Any) -> None:
    try:
        network_status_from_cni_result("lab/x", "net1", result)
    except AnnotationError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_parsed_statuses_render_and_reparse_identically(value: str) -> None:
    for text in (value, REAL_STATUS, REAL_STATUS_SPARSE):
        try:
            statuses = parse_network_status(text)
        except AnnotationError:
            continue
        assert parse_network_status(render_network_status(statuses)) == statuses


# ---------------------------------------------------------------------------------------------------------------
# optional: run the real macvlan + static plugins in throwaway namespaces and read their result

_CNI_DIR = Path("/usr/lib/cni")


@pytest.mark.lab
@pytest.mark.needs("cni-plugins")
def test_real_macvlan_result_builds_the_expected_status() -> None:
    tag = uuid.uuid4().hex[:8]
    host_ns, pod_ns = f"na-h-{tag}", f"na-p-{tag}"
    conf = {
        "cniVersion": "1.0.0",
        "name": "macvlan-conf",
        "type": "macvlan",
        "master": "m0",
        "mode": "bridge",
        "ipam": {
            "type": "static",
            "addresses": [{"address": "192.168.112.11/24", "gateway": "192.168.112.1"}],
            "routes": [{"dst": "0.0.0.0/0"}],
        },
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_CONTAINERID": f"na-{tag}",
        "CNI_NETNS": f"/var/run/netns/{pod_ns}",
        "CNI_IFNAME": "net1",
        "CNI_PATH": str(_CNI_DIR),
    }

    def plugin(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", host_ns, str(_CNI_DIR / "macvlan")],
            input=json.dumps(conf), capture_output=True, text=True, env={**env, "CNI_COMMAND": command},
            timeout=30, check=False,
        )

    def ip(*args: str) -> str:
        return subprocess.run(["ip", *args], capture_output=True, text=True, check=True, timeout=30).stdout

    created: list[str] = []
    try:
        for ns in (host_ns, pod_ns):
            ip("netns", "add", ns)
            created.append(ns)
        ip("-n", host_ns, "link", "add", "m0", "type", "veth", "peer", "name", "m0p")
        ip("-n", host_ns, "link", "set", "m0", "up")
        added = plugin("ADD")
        assert added.returncode == 0, added.stdout + added.stderr
        result = json.loads(added.stdout)
        status = network_status_from_cni_result("lab/macvlan-conf", "net1", result)
        link = json.loads(ip("-j", "-n", pod_ns, "link", "show", "net1"))[0]
        assert status.interface == "net1"
        assert status.mac == link["address"]
        assert status.ips == ("192.168.112.11",)
        assert status.gateway == ("<nil>",)
        assert parse_network_status(render_network_status([status])) == [status]
        plugin("DEL")
    finally:
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False, timeout=30)
