"""The address phones use to reach the show (its QR code is drawn by :mod:`reality.web.qr`).

Phones are never on the presenter's machine, so the phone URL is never ``localhost``. In order:

1. ``--public-url`` when the presenter gives one (a tunnel, a reverse proxy, a DNS name): what is
   asked for explicitly wins;
2. GitHub Codespaces: the forwarded URL, ``https://<CODESPACE_NAME>-<port>.<GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN>``
   (the port must be public for phones: ``gh codespace ports visibility <port>:public``);
3. the machine's address on the local network.

    >>> codespace = {"CODESPACE_NAME": "demo", "GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN": "app.github.dev"}
    >>> phone_url(5001, env=codespace).url
    'https://demo-5001.app.github.dev/qr'
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit


PHONE_PATH = "/qr"


class InvalidPublicUrl(ValueError):
    """``--public-url`` is not an http(s) URL; the message says what to pass."""


@dataclass(frozen=True)
class PublicAddress:
    """Where phones (and remote viewers) reach the show, and how that was decided."""

    base: str  # scheme://host[:port][/prefix], no trailing slash
    source: str  # "codespaces", "public-url", "lan" or "hostname"
    warning: str | None = None

    @property
    def url(self) -> str:
        """The phone page: what the QR code encodes."""
        return self.base + PHONE_PATH

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def is_https(self) -> bool:
        return self.base.startswith("https://")


def codespaces_base(port: int, env: Mapping[str, str]) -> str | None:
    """The forwarded URL of ``port`` when running in a Codespace, else ``None``."""
    name = env.get("CODESPACE_NAME", "").strip()
    domain = env.get("GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN", "").strip()
    if not name or not domain:
        return None
    return f"https://{name}-{port}.{domain}"


def normalise_public_url(url: str) -> str:
    """Check ``--public-url`` and return it as a base without a trailing slash or the phone path."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidPublicUrl(f"--public-url {url!r} is not a URL phones can open: "
                               "give it like https://example.org or http://192.168.1.20:5001")
    path = parts.path.rstrip("/")
    if path.endswith(PHONE_PATH):
        path = path[: -len(PHONE_PATH)]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _usable(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def lan_address() -> str | None:
    """This machine's IPv4 address on the local network, or ``None`` when it has none."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        infos = []
    for info in infos:
        if _usable(info[4][0]):
            return info[4][0]
    # Ask the kernel which source address it would route through. Connecting a UDP socket sends
    # no packet at all; the address is from a documentation range that is never routed anywhere.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
    except OSError:
        return None
    return address if _usable(address) else None


def phone_url(port: int, public_url: str | None = None, env: Mapping[str, str] | None = None,
              listen: str = "0.0.0.0") -> PublicAddress:
    """Decide where phones reach the show on ``port`` (see the module docstring for the order).

    ``listen`` is the address the server listens on (``--host``): a specific address is the one
    phones use; a loopback one cannot be reached by phones, and the address says so.
    """
    env = os.environ if env is None else env
    if public_url:
        return PublicAddress(normalise_public_url(public_url), "public-url")
    forwarded = codespaces_base(port, env)
    if forwarded:
        return PublicAddress(forwarded, "codespaces")  # Codespaces forwards to localhost, too
    try:
        listening = ipaddress.ip_address(listen)
    except ValueError:
        listening = None  # a host name: where it points is up to the network
    if (listening is not None and listening.is_loopback) or (listening is None and _names_loopback(listen)):
        guess = lan_address()
        return PublicAddress(f"http://{guess or socket.gethostname()}:{port}", "lan",
                             warning=f"Listening on {listen} only: phones cannot reach the show. Start it with "
                                     "--host 0.0.0.0 (the default), or give --public-url for a tunnel.")
    if listening is not None and not listening.is_unspecified:
        host = f"[{listening}]" if listening.version == 6 else str(listening)
        return PublicAddress(f"http://{host}:{port}", "lan")
    address = lan_address()
    if address:
        return PublicAddress(f"http://{address}:{port}", "lan")
    host = socket.gethostname()
    return PublicAddress(f"http://{host}:{port}", "hostname",
                         warning=f"No network address found: phones need to resolve {host!r}; "
                                 "pass --public-url if they cannot.")


def _names_loopback(name: str) -> bool:
    """True when host name ``name`` (``localhost``, say) resolves to loopback addresses only."""
    try:
        found = {info[4][0] for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in found)
