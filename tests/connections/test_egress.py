"""The outbound rules: which addresses may be reached (pure checks, plus real requests through Client)."""

import socket

import pytest

from connections import egress
from connections.client import Client
from connections.errors import EgressDenied, Unreachable
from tests.connections.factories import custom_connection

PUBLIC_IP = "93.184.216.34"


def fake_getaddrinfo(mapping):
    """A getaddrinfo answering from `mapping` (host -> address); only DNS is faked."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in mapping:
            address = mapping[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port or 0))]
        return real(host, port, *args, **kwargs)

    return getaddrinfo


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("10.255.255.254", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 -- an address under test, not a bind
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("fc00::5", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("64:ff9b::a00:1", "private"),
    ],
)
def test_forbidden_addresses_are_named(address, problem):
    assert problem in egress.address_problem(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "100.63.255.255"])
def test_public_addresses_pass(address):
    assert egress.address_problem(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/api",
        "http://10.0.0.1/",
        "http://10.20.30.40:8080/deals",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9000/",
        "http://[fd00:ec2::254]/",
        "http://100.64.1.2/",
        "http://0.0.0.0:8000/",
    ],
)
def test_check_url_refuses_non_public_literals(url):
    with pytest.raises(EgressDenied):
        egress.check_url(url, allow_private=False)


def test_host_name_resolving_to_loopback_is_refused():
    with pytest.raises(EgressDenied) as excinfo:
        egress.check_url("http://localhost:8000/x?api_key=topsecret", allow_private=False)
    assert "localhost resolves to" in excinfo.value.message
    assert excinfo.value.host == "localhost"
    # The message names the host, never the path or the query string.
    assert "topsecret" not in str(excinfo.value)
    assert "/x" not in str(excinfo.value)


def test_host_name_resolving_to_a_private_address_is_refused(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({"intranet.example.com": "10.1.2.3"}))
    with pytest.raises(EgressDenied, match=r"intranet\.example\.com resolves to 10\.1\.2\.3, a private"):
        egress.check_url("https://intranet.example.com/api", allow_private=False)


def test_public_host_name_passes_and_reports_addresses(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({"api.example.com": PUBLIC_IP}))
    target = egress.check_url("https://api.example.com/v1", allow_private=False)
    assert (target.scheme, target.host, target.port, target.addresses) == (
        "https",
        "api.example.com",
        443,
        (PUBLIC_IP,),
    )


def test_private_hosts_pass_when_allowed():
    assert egress.check_url("http://127.0.0.1:1/", allow_private=True).addresses == ("127.0.0.1",)


def test_metadata_address_is_refused_even_when_private_hosts_are_allowed():
    with pytest.raises(EgressDenied, match="never allowed"):
        egress.check_url("http://169.254.169.254/latest/meta-data/", allow_private=True)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/file", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("gopher://example.com/", "Only http and https"),
        ("example.com/api", "Only http and https"),
        ("http://user:pass@example.com/", "must not contain a username or password"),
        ("http://token@example.com/", "must not contain a username or password"),
        ("http:///path-only", "no valid host"),
        ("http://example.com:99999/", "not valid"),
    ],
)
def test_check_url_refuses_bad_urls(url, words):
    with pytest.raises(EgressDenied, match=words):
        egress.check_url(url, allow_private=True)


def test_dns_failure_is_unreachable(monkeypatch):
    def no_answer(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_answer)
    with pytest.raises(Unreachable, match="nowhere.example could not be found"):
        egress.check_url("https://nowhere.example/", allow_private=False)


def test_redact_url_masks_credentials_and_userinfo():
    redacted = egress.redact_url("https://bob:pw@api.example.com/v1/x?api_key=abc123&page=2&sessionName=s3ss", ["page"])
    assert "abc123" not in redacted and "s3ss" not in redacted and "pw" not in redacted
    assert redacted.startswith("https://api.example.com/v1/x?")
    assert "page=••••" in redacted


# --- through the client, against the sandbox ------------------------------------------


@pytest.mark.django_db
def test_client_refuses_loopback_before_any_request(sandbox, settings):
    settings.ALLOW_PRIVATE_HOSTS = False
    connection = custom_connection(sandbox.url)
    before = sandbox.stats()
    with Client(connection) as client, pytest.raises(EgressDenied, match="127.0.0.1 is a loopback address"):
        client.request("GET", "deals")
    assert sandbox.stats() == before


@pytest.mark.django_db
def test_redirect_to_a_private_address_is_refused(sandbox, settings, monkeypatch):
    settings.ALLOW_PRIVATE_HOSTS = False
    # Treat the sandbox's own loopback address as public, so the first hop goes
    # out and the redirect is what the rules have to catch.
    real_problem = egress.address_problem
    monkeypatch.setattr(egress, "address_problem", lambda a: None if str(a) == "127.0.0.1" else real_problem(a))
    connection = custom_connection(sandbox.url)
    with Client(connection) as client:
        for target in ("http://10.0.0.1:8080/deals", "http://169.254.169.254/latest/meta-data/", "http://[::1]:1/"):
            with pytest.raises(EgressDenied):
                client.request("GET", "redirect", params=[("to", target)])
        # The same redirect to an allowed address is followed.
        response = client.request("GET", "redirect", params=[("to", f"{sandbox.url}/custom/v1/deals")])
        assert response.status == 200


@pytest.mark.django_db
def test_connect_time_check_beats_dns_rebinding(sandbox, settings, monkeypatch):
    """The name resolves to a public address when checked, but the socket connects to loopback."""
    settings.ALLOW_PRIVATE_HOSTS = False
    port = sandbox.url.rsplit(":", 1)[1]
    # Only the pre-connect check is fooled; urllib3 really resolves `localhost` to loopback.
    monkeypatch.setattr(egress, "resolve", lambda host, port: (PUBLIC_IP,))
    connection = custom_connection(f"http://localhost:{port}/custom/v1")
    before = sandbox.stats()
    with Client(connection) as client, pytest.raises(EgressDenied, match="localhost resolves to"):
        client.request("GET", "deals")
    assert sandbox.stats() == before  # refused after connect, before a byte was sent


@pytest.mark.django_db
def test_credentials_are_not_sent_to_another_host_on_redirect(sandbox, settings):
    settings.ALLOW_PRIVATE_HOSTS = True
    port = sandbox.url.rsplit(":", 1)[1]
    connection = custom_connection(sandbox.url, auth_type="bearer", secrets={"token": "sandbox-token"})
    with Client(connection) as client:
        # Same origin: the token goes along and the secure endpoint answers.
        same = client.request("GET", "redirect", params=[("to", f"{sandbox.url}/custom/v1/secure/deals")])
        assert same.status == 200
        # `localhost` is another origin than 127.0.0.1 (same server): the token stays home.
        other = f"http://localhost:{port}/custom/v1/secure/deals"
        with pytest.raises(Exception) as excinfo:
            client.request("GET", "redirect", params=[("to", other)])
        assert excinfo.value.kind == "auth_rejected"


def test_every_new_connection_is_guarded():
    """HTTP and HTTPS pools both build connections that check their peer address."""
    adapter = egress.GuardedAdapter(allow_private=False)
    for url in ("http://api.example.com/", "https://api.example.com/"):
        pool = adapter.poolmanager.connection_from_url(url)
        assert issubclass(pool.ConnectionCls, egress._GuardedHTTPConnection | egress._GuardedHTTPSConnection)
        assert pool.ConnectionCls.allow_private is False


# The URL forms an attacker tries to reach this machine, its network or the cloud metadata
# service with (the issue 10 attack pass): each must be refused without private hosts allowed.
SSRF_FORMS = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://127.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0x0.0x0.0x1/",
    "http://0177.0.0.1/",
    "http://017700000001/",
    "http://127.000.000.001/",
    "http://0/",
    "http://0.0.0.0/",
    "http://localhost/",
    "http://localhost./",
    "http://LOCALHOST/",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.169.254:80/",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://0251.0376.0251.0376/",
    "http://169.254.43518/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://10.0.0.1/",
    "http://10.1/",
    "http://167772161/",
    "http://0x0a000001/",
    "http://012.0.0.1/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.0.1/",
    "http://3232235521/",
    "http://100.64.0.1/",
    "http://[fc00::1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://user:pass@127.0.0.1/",
    "http://example.com@127.0.0.1/",
    "http://127.0.0.1:80@example.com@127.0.0.1/",
    "http://127.0.0.1:8000/",
    "http://127.0.0.1:22/",
    "https://127.0.0.1:443/",
    "http://[::1]:8000/",
    "http://127.0.0.1/%2e%2e/",
    "http://127.0.0.1/?url=http://example.com",
    "http://127.0.0.1#@example.com/",
]


@pytest.mark.parametrize("url", SSRF_FORMS)
def test_every_ssrf_url_form_is_refused(url):
    with pytest.raises(EgressDenied):
        egress.check_url(url, allow_private=False)
