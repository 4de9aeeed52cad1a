"""Which addresses an outbound request may reach.

Pure module: no models, no settings, no request objects; callers pass
`allow_private`. Two checks guard every request:

1. `check_url()` before sending: scheme, no userinfo, and every address the host
   name resolves to must be public. It gives early, readable errors.
2. `GuardedAdapter` after connecting: the address the socket actually connected to
   is checked before a single byte is sent. That beats DNS rebinding (a name that
   resolves to a public address for the check and to a private one for the connect).
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote_plus, urlsplit, urlunsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from connections.errors import MASK, SECRET_PARAM_NAMES, EgressDenied, Unreachable

ALLOWED_SCHEMES = ("http", "https")

# Cloud instance metadata services hand out credentials: never reachable, even
# when private hosts are allowed (nothing legitimate lives there).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task credentials
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)
# Shared address space for carrier-grade NAT; Python 3.11 doesn't call it private.
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")

_PORT_DEFAULTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    addresses: tuple = ()

    @property
    def origin(self):
        return (self.scheme, self.host, self.port)


def address_problem(address):
    """Why `address` (str or ip_address) must not be reached from a public-only site, or None."""
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    # An IPv6 address can smuggle an IPv4 one: judge the embedded address.
    if ip.version == 6:
        embedded = ip.ipv4_mapped or (ip.sixtofour if ip.sixtofour else None)
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded)
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address (this server itself)"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.version == 4 and ip in CGNAT:
        return "a carrier-grade NAT address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global:
        return "a private network address"
    return None


def check_address(address, host, allow_private):
    """Raise EgressDenied if `address` (which `host` resolved to) may not be reached."""
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    problem = address_problem(ip)
    if problem is None:
        return
    where = f"{host} is" if host == str(ip) else f"{host} resolves to {ip},"
    if problem == "a cloud metadata address":
        raise EgressDenied(f"{where} {problem}, which is never allowed.", host=host)
    if allow_private:
        return
    raise EgressDenied(
        f"{where} {problem}; this site only connects to public addresses "
        "(an administrator can allow private hosts with ALLOW_PRIVATE_HOSTS).",
        host=host,
    )


def parse_target(url):
    """Scheme, host and port of `url`, refusing anything but plain http(s) URLs."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EgressDenied("The URL is not valid (check the host and the port).") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise EgressDenied(f"Only http and https URLs are allowed, not {scheme or 'a URL without a scheme'}.")
    if "@" in parts.netloc:
        raise EgressDenied("The URL must not contain a username or password: enter them in the credential fields.")
    host = (parts.hostname or "").rstrip(".")
    if not host or any(c in host for c in " \\\t\r\n/"):
        raise EgressDenied("The URL has no valid host name.")
    return Target(scheme, host, port or _PORT_DEFAULTS[scheme])


def resolve(host, port):
    """Every address `host` resolves to. Raises Unreachable when DNS has no answer."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Unreachable(f"The host name {host} could not be found (DNS lookup failed).") from None
    return tuple(dict.fromkeys(info[4][0] for info in infos))


def check_url(url, *, allow_private=False):
    """Validate `url` for an outbound request; return its Target with the resolved addresses."""
    target = parse_target(url)
    addresses = resolve(target.host, target.port)
    for address in addresses:
        check_address(address, target.host, allow_private)
    return Target(target.scheme, target.host, target.port, addresses)


def redact_url(url, extra_names=()):
    """`url` without userinfo and with credential-looking query values masked, for logs and messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(invalid URL)"
    names = SECRET_PARAM_NAMES | {n.lower() for n in extra_names if n}
    query = "&".join(
        f"{quote_plus(k)}={MASK if k.lower() in names else quote_plus(v)}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def host_of(url):
    """The host name of `url` for messages, never the path or query."""
    try:
        return urlsplit(url).hostname or "(no host)"
    except ValueError:
        return "(invalid URL)"


# --- connect-time check -------------------------------------------------------


def _checked(sock, host, allow_private):
    try:
        peer = sock.getpeername()[0]
        check_address(peer, host, allow_private)
    except BaseException:
        sock.close()
        raise
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    allow_private = False

    def _new_conn(self):
        # Runs right after the TCP connect, before TLS or any request byte.
        return _checked(super()._new_conn(), self.host, self.allow_private)


class _GuardedHTTPSConnection(HTTPSConnection):
    allow_private = False

    def _new_conn(self):
        return _checked(super()._new_conn(), self.host, self.allow_private)


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections refuse forbidden peer addresses."""

    def __init__(self, *, allow_private=False, **kwargs):
        self.allow_private = allow_private
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        allow = self.allow_private
        http_conn = type("GuardedHTTPConnection", (_GuardedHTTPConnection,), {"allow_private": allow})
        https_conn = type("GuardedHTTPSConnection", (_GuardedHTTPSConnection,), {"allow_private": allow})
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
        }

    def proxy_manager_for(self, *args, **kwargs):
        # A proxy would be the peer instead of the real host, defeating the check.
        raise EgressDenied("Outbound requests through a proxy are not supported.")
