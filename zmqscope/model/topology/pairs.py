"""Which socket types ZeroMQ lets talk to each other.

From the ZMTP specification (rfc.zeromq.org 23/ZMTP, 28/REQREP, 29/PUBSUB,
30/PIPELINE, 31/EXPAIR, 41/CLIENT-SERVER, 48/RADIO-DISH, 49/SCATTER-GATHER,
51/PEER, 52/CHANNEL): a peer of any other type fails the handshake, and
libzmq drops the connection and tries again, with no error to either
application (measured with libzmq 4.3.5: PUB and PULL, REQ and REQ connect,
then disconnect, over and over).
"""

from __future__ import annotations

# STREAM talks raw tcp to anything that is not ZeroMQ: not judged.
UNCHECKED = frozenset({"STREAM"})

_PAIRS = (
    ("PAIR", "PAIR"),
    ("PUB", "SUB"),
    ("PUB", "XSUB"),
    ("XPUB", "SUB"),
    ("XPUB", "XSUB"),
    ("REQ", "REP"),
    ("REQ", "ROUTER"),
    ("DEALER", "REP"),
    ("DEALER", "ROUTER"),
    ("DEALER", "DEALER"),
    ("ROUTER", "ROUTER"),
    ("PUSH", "PULL"),
    ("CLIENT", "SERVER"),
    ("RADIO", "DISH"),
    ("SCATTER", "GATHER"),
    ("PEER", "PEER"),
    ("CHANNEL", "CHANNEL"),
)

VALID_PAIRS = frozenset(_PAIRS) | frozenset((b, a) for a, b in _PAIRS)
KNOWN_TYPES = frozenset(t for pair in _PAIRS for t in pair) | UNCHECKED


def compatible(one: str, other: str) -> bool | None:
    """True or False for two socket types, None when it cannot be told (STREAM, unknown names)."""
    one, other = one.upper(), other.upper()
    if one not in KNOWN_TYPES or other not in KNOWN_TYPES or one in UNCHECKED or other in UNCHECKED:
        return None
    return (one, other) in VALID_PAIRS


def partners(kind: str) -> tuple[str, ...]:
    """The types ``kind`` can talk to, for a diagnosis's hint."""
    kind = kind.upper()
    return tuple(sorted({b for a, b in VALID_PAIRS if a == kind}))
