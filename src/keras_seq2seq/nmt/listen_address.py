"""Where `seq2seq serve` listens: `--host` and `--port` checked before
the model loads, and a failed bind said in the user's terms (the host is
no address, or not this machine's; the port is taken or privileged)."""

import errno
import ipaddress
import re
import socket

from keras_seq2seq.nmt.run_error import RunError


def check_address(host: str, port: int) -> None:
    """A `RunError` if `host` names no address of this machine, or `port`
    cannot be bound there: each address is bound once, as the server
    binds them, and let go."""
    if not host.strip():  # `--host "$HOST"` with HOST unset, most likely
        raise RunError(
            "--host is empty; give an address of this machine, such as "
            "127.0.0.1 (this machine only) or 0.0.0.0 (every network)"
        )
    if re.fullmatch(r"[0-9.]+", host):  # no name: no resolver to ask
        try:
            ipaddress.IPv4Address(host)
        except ValueError as error:
            raise address_error(host, port, error) from None
    try:
        addresses = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, UnicodeError) as error:
        raise address_error(host, port, error) from None
    for family, kind, protocol, _, address in addresses:
        try:
            with socket.socket(family, kind, protocol) as probe:
                # As asyncio's server: a port in TIME_WAIT is free.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
        except OSError as error:
            raise address_error(host, port, error) from None


def address_error(host: str, port: int, error: Exception) -> RunError:
    """What a failed bind of `host:port` means, and the option to fix."""
    reason = getattr(error, "strerror", None) or str(error)
    if isinstance(error, (socket.gaierror, UnicodeError, ValueError)):
        return RunError(
            f"--host {host} is not a valid address or a known host name "
            f"({reason}); give an address of this machine, such as "
            "127.0.0.1 (this machine only) or 0.0.0.0 (every network)"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return RunError(
            f"--host {host} is not an address of this machine ({reason}); "
            "give one of its addresses, such as 127.0.0.1 (this machine "
            "only) or 0.0.0.0 (every network)"
        )
    if error.errno == errno.EADDRINUSE:
        return RunError(
            f"port {port} on {host} is in use ({reason}); pick another "
            "--port, or --port 0 for a free one"
        )
    if error.errno == errno.EACCES and 0 < port < 1024:
        return RunError(
            f"cannot listen on {host}:{port} ({reason}): ports below 1024 "
            "need privileges; pick a --port above 1023"
        )
    return RunError(
        f"cannot listen on {host}:{port} ({reason}); check --host and --port"
    )
