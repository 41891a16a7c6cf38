"""Who may talk to a server on a given endpoint, and what the server must do about it.

============================  ==================================================
endpoint                      who can connect
============================  ==================================================
``ipc://`` path (default)     the socket file is 0600 in a 0700 folder: this
                              user and root
``tcp://`` loopback,          CURVE with the user's keys (:mod:`zmqscope.remote.curve`):
``ipc://@`` abstract          clients holding the user's client key, i.e. this
                              user and root
... with ``insecure=True``    no authentication: every local user
``tcp://`` beyond loopback    only with ``curve_secret_key``: whoever has the
                              server's public key
============================  ==================================================
"""

from __future__ import annotations

import enum
import ipaddress

from zmqscope._errors import ZmqscopeError


class AccessError(ZmqscopeError):
    """The server must not serve on this endpoint so; the message says why."""


class Access(enum.Enum):
    FILE_PERMISSIONS = "file permissions"
    USER_CURVE = "CURVE, this user's keys"
    GIVEN_CURVE = "CURVE, the given key"
    OPEN = "none (insecure)"


def needs_authentication(endpoint: str) -> bool:
    """No file guards it: a tcp port or a Linux abstract socket."""
    return endpoint.startswith(("tcp://", "ipc://@"))


def server_access(endpoint: str, curve_key_given: bool, insecure: bool) -> Access:
    """How a server on ``endpoint`` keeps strangers out, or :class:`AccessError`."""
    if not endpoint.startswith(("ipc://", "tcp://")):
        raise AccessError(f"cannot serve on {endpoint}: use ipc:// or tcp://")
    if curve_key_given:
        return Access.GIVEN_CURVE
    if not needs_authentication(endpoint):
        return Access.FILE_PERMISSIONS
    if endpoint.startswith("tcp://") and not _loopback(endpoint):
        raise AccessError(
            f"refusing to serve on {endpoint}: only loopback addresses without CURVE "
            "authentication (pass curve_secret_key)"
        )
    return Access.OPEN if insecure else Access.USER_CURVE


def _loopback(endpoint: str) -> bool:
    host = endpoint[len("tcp://") :].rpartition(":")[0].strip("[]")
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
