"""relay.netguard's decision: where a URL taken from run data may be fetched from."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest

from relay.config import load_ruleset
from relay.errors import ConfigError, FetchRefused
from relay.netguard import PUBLIC_ONLY, NetworkPolicy, decide, literal_address

PUBLIC = ip_address("52.216.8.10")
LOOPBACK_ONLY = NetworkPolicy.parse(["127.0.0.1/32"])


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8080/admin", "127.0.0.1 is a loopback address"),
        ("http://127.9.9.9/", "127.9.9.9 is a loopback address"),
        ("http://2130706433/", "2130706433 (127.0.0.1) is a loopback address"),
        ("http://0177.0.0.1/", "0177.0.0.1 (127.0.0.1) is a loopback address"),
        ("http://0x7f.1/", "0x7f.1 (127.0.0.1) is a loopback address"),
        ("http://127.1/", "127.1 (127.0.0.1) is a loopback address"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is a loopback address"),
        ("http://[::ffff:a9fe:a9fe]/", "is a link-local address"),  # mapped 169.254.169.254
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[fe80::1]/", "fe80::1 is a link-local address"),
        ("http://10.1.2.3/", "10.1.2.3 is a private address"),
        ("http://172.16.0.1/", "172.16.0.1 is a private address"),
        ("http://172.31.255.254/", "is a private address"),
        ("http://192.168.1.1/", "192.168.1.1 is a private address"),
        ("http://[fc00::1]/", "fc00::1 is a private address"),
        ("http://[fd12:3456::1]/", "is a private address"),
        ("http://0.0.0.0/", "0.0.0.0 is the unspecified address"),
        ("http://[::]/", ":: is the unspecified address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("http://[ff02::1]/", "is a multicast address"),
        ("http://240.0.0.1/", "is a private address"),  # reserved, and counted private by Python
        ("http://100.64.0.1/", "100.64.0.1 is not a public address"),  # carrier-grade NAT
        ("ftp://files.example.com/out.json", "only http and https URLs are fetched, not ftp"),
        ("file:///etc/passwd", "only http and https URLs are fetched, not file"),
        ("gopher://127.0.0.1:6379/_INFO", "not gopher"),
        ("http:///no-host", "the URL names no host"),
        ("http://[::1/", "not a URL"),
    ],
)
def test_a_url_into_the_relay_s_own_network_is_refused(url: str, why: str) -> None:
    with pytest.raises(FetchRefused) as refused:
        decide(url, PUBLIC_ONLY, [PUBLIC])  # a literal address is checked, whatever DNS says
    assert why in str(refused.value)


def test_a_public_address_is_fetched_from_every_address_the_name_has() -> None:
    other = ip_address("2600:1f18::10")
    assert decide("https://bucket.s3.amazonaws.com/out.json", PUBLIC_ONLY, [PUBLIC, other]) == (PUBLIC, other)
    assert decide("https://52.216.8.10/out.json", PUBLIC_ONLY) == (PUBLIC,)


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public() -> None:
    with pytest.raises(FetchRefused, match="resolves to 10.0.0.5, which is a private address"):
        decide("https://files.example.com/x", PUBLIC_ONLY, [PUBLIC, ip_address("10.0.0.5")])
    with pytest.raises(FetchRefused, match="resolves to ::ffff:169.254.169.254|resolves to 169.254.169.254"):
        decide("https://files.example.com/x", PUBLIC_ONLY, [ip_address("::ffff:169.254.169.254")])
    with pytest.raises(FetchRefused, match="files.example.com resolves to no address"):
        decide("https://files.example.com/x", PUBLIC_ONLY, [])


def test_allowed_networks_and_hosts() -> None:
    loopback = ip_address("127.0.0.1")
    assert decide("http://127.0.0.1:9000/x", LOOPBACK_ONLY) == (loopback,)
    assert decide("http://2130706433:9000/x", LOOPBACK_ONLY) == (loopback,)  # the same address
    assert decide("http://[::ffff:127.0.0.1]/x", LOOPBACK_ONLY) == (loopback,)
    assert decide("http://localhost/x", LOOPBACK_ONLY, [loopback]) == (loopback,)
    for outside in ("http://127.0.0.2/x", "http://[::1]/x", "http://169.254.169.254/"):
        with pytest.raises(FetchRefused):
            decide(outside, LOOPBACK_ONLY)
    by_name = NetworkPolicy.parse(["files.internal.example"])
    assert decide("https://FILES.internal.example./out.json", by_name) is None  # not pinned
    with pytest.raises(FetchRefused):
        decide("ftp://files.internal.example/out.json", by_name)  # still http(s) only


def test_a_redirect_is_checked_like_the_first_url() -> None:
    """`fetch` decides every hop with `decide`; a relative Location is joined first."""
    from urllib.parse import urljoin

    with pytest.raises(FetchRefused, match="link-local"):
        decide(urljoin("https://files.example.com/a", "//169.254.169.254/latest/"), PUBLIC_ONLY, [PUBLIC])
    assert decide(urljoin("https://52.216.8.10/a", "/b"), PUBLIC_ONLY) == (PUBLIC,)


@pytest.mark.parametrize(
    ("host", "address"),
    [("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("10.1", "10.0.0.1"), ("::1", "::1")],
)
def test_numeric_spellings_of_an_address(host: str, address: str) -> None:
    assert literal_address(host) == ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "deadbeef", "cafe.example", "1e100.net"])
def test_names_are_not_addresses(host: str) -> None:
    assert literal_address(host) is None


def test_network_allow_is_validated_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("network:\n  allow:\n    - 10.0.0.0/8\n    - 10.1.2.3/8\n")
    with pytest.raises(ConfigError, match=r"rules.yaml:2: network: allow: '10.1.2.3/8' is neither"):
        load_ruleset(path)
    for bad in ("'*.example.com'", "'http://files.example.com'", "'files.example.com:443'", "42"):
        path.write_text(f"network: {{allow: [{bad}]}}\n")
        with pytest.raises(ConfigError, match="rules.yaml:1: network: allow:"):
            load_ruleset(path)
    path.write_text("network: {deny: []}\n")
    with pytest.raises(ConfigError, match="rules.yaml:1: network: unknown option 'deny'"):
        load_ruleset(path)


def test_network_allow_reaches_every_source(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "sources: {a: {kind: triggerdev}, b: {kind: recoup}}\n"
        'network: {allow: ["127.0.0.1", "fd00::/8", "Files.Internal.Example"]}\n'
    )
    ruleset = load_ruleset(path)
    expected = NetworkPolicy.parse(["127.0.0.1/32", "fd00::/8", "files.internal.example"])
    assert ruleset.sources["a"].network == ruleset.sources["b"].network == expected
    path.write_text("sources: {a: {kind: triggerdev}}\n")
    assert load_ruleset(path).sources["a"].network == PUBLIC_ONLY
