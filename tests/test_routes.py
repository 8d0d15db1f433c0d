"""Routes compared as what they mean: the false failure of comparing text is a regression test here."""

from __future__ import annotations

from netattest.routes import ipam_gateway, missing_routes, parse_route, wanted_routes


def test_a_default_route_asked_as_0_0_0_0_0_matches_the_installed_default_via_the_gateway() -> None:
    config = {"type": "host-local", "subnet": "10.1.1.0/24", "gateway": "10.1.1.1", "routes": [{"dst": "0.0.0.0/0"}]}
    wanted = wanted_routes(config["routes"], "net1", ipam_gateway(config))  # type: ignore[arg-type]
    assert missing_routes(wanted, ["10.1.1.0/24 dev net1", "default via 10.1.1.1 dev net1"]) == []


def test_a_wrong_gateway_or_device_is_named_with_what_the_table_has_instead() -> None:
    wanted = wanted_routes([{"dst": "0.0.0.0/0"}, {"dst": "10.2.0.0/16", "gw": "10.1.1.254"}], "net1", "10.1.1.1")
    missing = missing_routes(wanted, ["default via 10.1.1.9 dev net1", "10.2.0.0/16 via 10.1.1.254 dev eth0"])
    assert missing == ["default via 10.1.1.1 dev net1 (the table has default via 10.1.1.9 dev net1)",
                       "10.2.0.0/16 via 10.1.1.254 dev net1 (the table has 10.2.0.0/16 via 10.1.1.254 dev eth0)"]


def test_prefixes_with_host_bits_and_gateways_from_ranges_or_addresses() -> None:
    assert parse_route("10.2.0.7/16 dev net1") == parse_route("10.2.0.0/16 dev net1")
    assert ipam_gateway({"ranges": [[{"subnet": "10.1.1.0/24", "gateway": "10.1.1.254"}]]}) == "10.1.1.254"
    assert ipam_gateway({"addresses": [{"address": "10.1.1.5/24", "gateway": "10.1.1.1"}]}) == "10.1.1.1"
    assert ipam_gateway({"type": "dhcp"}) is None
    assert parse_route("unreachable 10.9.0.0/16") is None
