"""`sessions-pipeline dashboard` started as a user starts it, and the sockets it listens on."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SERVER_START_SECONDS = 90
CONSOLE_SCRIPT = str(Path(sys.executable).with_name("sessions-pipeline"))
# Linux lists its IPv4 and IPv6 TCP sockets there, addresses in hex; 0A is LISTEN.
PROC_NET_TCP = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
LISTEN = "0A"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def url_of(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}"


def answers(url: str) -> bool:
    """Whether the dashboard at `url` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@contextmanager
def dashboard_server(
    root: Path, log_path: Path, port: int, address: str | None = None
) -> Iterator[str]:
    """The dashboard of `root` on `port` (and `--address`, if given) from the console
    script; yields its URL once it answers there, and stops it on the way out."""
    options = ["--address", address] if address else []
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [CONSOLE_SCRIPT, "dashboard", "--root", str(root), "--port", str(port), *options],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = url_of(address or "127.0.0.1", port)
        try:
            deadline = time.monotonic() + SERVER_START_SECONDS
            while not answers(url):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"no dashboard at {url}: {log_path.read_text()}")
                time.sleep(0.2)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def _proc_address(hexadecimal: str) -> str:
    # The kernel prints an address as 32-bit words in the machine's byte order.
    words = [int(hexadecimal[i : i + 8], 16) for i in range(0, len(hexadecimal), 8)]
    return str(ipaddress.ip_address(b"".join(word.to_bytes(4, sys.byteorder) for word in words)))


def listening_addresses(port: int) -> set[str]:
    """The addresses that TCP sockets listen on at `port`, IPv4 and IPv6 ("0.0.0.0" and
    "::" are every interface)."""
    found = set()
    for table in PROC_NET_TCP:
        if not table.exists():  # a kernel without IPv6
            continue
        for line in table.read_text().splitlines()[1:]:
            local, _remote, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if state == LISTEN and int(hex_port, 16) == port:
                found.add(_proc_address(address))
    return found
