"""The classroom's address: chosen from the machine's interfaces (fake lists here: no test
listens beyond loopback), overridable by PLAYGROUND_PUBLIC_URL; `make run` stays on loopback."""

from __future__ import annotations

import sys

import pytest

from app.cli import build_parser, classroom_url, listen_host
from app.lan import Interface, base_url, choose_address, lan_base_url, machine_interfaces

LAPTOP = [  # a teacher's laptop with Docker and a VM network, on the school's Wi-Fi
    Interface("lo", "127.0.0.1"),
    Interface("docker0", "172.17.0.1"),
    Interface("br-5f2a9c1d", "172.18.0.1"),
    Interface("veth12ab", "169.254.3.7"),
    Interface("virbr0", "192.168.122.1"),
    Interface("eth0", "169.254.10.20"),  # a cable with no DHCP: link-local
    Interface("wlp2s0", "192.168.1.23"),
    Interface("lo", "::1"),
    Interface("wlp2s0", "fe80::1c2b:3cff:fe4d:5e6f%wlp2s0"),
]


def test_the_school_wifi_address_is_chosen_past_loopback_link_local_and_bridges() -> None:
    assert choose_address(LAPTOP) == "192.168.1.23"
    assert lan_base_url(8000, LAPTOP) == "http://192.168.1.23:8000"


def test_a_private_lan_address_wins_over_a_public_one_whatever_the_order() -> None:
    public, ten, one_seven_two = "203.0.113.5", "10.20.30.40", "172.20.1.9"
    listed = [Interface("eth1", public), Interface("eth0", one_seven_two), Interface("wlan0", ten)]
    assert choose_address(listed) == ten
    assert choose_address(listed[:2]) == one_seven_two
    assert choose_address(listed[:1]) == public
    assert choose_address([Interface("en0", "192.168.0.9"), *listed]) == "192.168.0.9"


def test_the_first_listed_wins_between_equals() -> None:
    assert choose_address([Interface("wlan0", "10.0.0.5"), Interface("eth0", "10.1.0.5")]) == (
        "10.0.0.5"
    )


def test_no_reachable_address_is_none() -> None:
    only_local = [i for i in LAPTOP if i.name != "wlp2s0"] + [Interface("wlp2s0", "not an ip")]
    assert choose_address(only_local) is None
    assert choose_address([]) is None
    assert lan_base_url(8000, only_local) is None


def test_an_ipv6_address_is_bracketed_and_taken_only_without_ipv4() -> None:
    v6 = Interface("wlan0", "2001:db8::7")
    assert choose_address([v6]) == "2001:db8::7"
    assert base_url("2001:db8::7", 8000) == "http://[2001:db8::7]:8000"
    assert choose_address([v6, Interface("wlan0", "10.0.0.2")]) == "10.0.0.2"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lists interfaces by ioctl")
def test_this_machines_interfaces_are_read_loopback_included() -> None:
    interfaces = machine_interfaces()
    assert Interface("lo", "127.0.0.1") in interfaces
    assert choose_address(interfaces) != "127.0.0.1"


def test_the_public_url_setting_overrides_the_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_PUBLIC_URL", raising=False)
    assert classroom_url(8123, LAPTOP) == "http://192.168.1.23:8123"
    monkeypatch.setenv("PLAYGROUND_PUBLIC_URL", "http://playground.school.example:8000")
    assert classroom_url(8123, LAPTOP) == "http://playground.school.example:8000"


def test_a_classroom_with_no_reachable_address_stops_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PLAYGROUND_PUBLIC_URL", raising=False)
    with pytest.raises(SystemExit, match="PLAYGROUND_PUBLIC_URL"):
        classroom_url(8000, [Interface("lo", "127.0.0.1"), Interface("docker0", "172.17.0.1")])


def test_run_stays_on_loopback_and_classroom_listens_on_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PLAYGROUND_HOST", raising=False)
    plain = build_parser().parse_args([])
    assert listen_host(plain.host, plain.classroom) == "127.0.0.1"
    classroom = build_parser().parse_args(["--classroom"])
    assert listen_host(classroom.host, classroom.classroom) == "0.0.0.0"
    chosen = build_parser().parse_args(["--classroom", "--host", "192.168.1.23"])
    assert listen_host(chosen.host, chosen.classroom) == "192.168.1.23"
