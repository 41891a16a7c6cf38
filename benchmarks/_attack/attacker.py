"""A misbehaving client of a zmqscope server, run as its own process by bench_attack.py.

It imports nothing of zmqscope: it speaks the wire protocol itself, over a
Unix stream connection (length, then JSON) or, with ``--zmq``, a DEALER (how
an older zmqscope served ipc, and how tcp is served). It prints its counts
as one JSON line at the end and leaves abruptly, as a killed tool would.

Modes:
  flood   one client keeps DEPTH requests of KIND sent and unanswered, reads
          the replies, for SECONDS
  unread  CLIENTS connections each send DEPTH requests of KIND and read
          nothing, for SECONDS
  shape   one request of an extreme shape: over a stream, a length of
          ANNOUNCED bytes then SENT_MB MB; over zmq, FRAMES frames of 60 KB
  idle    CLIENTS connections that send nothing, for SECONDS
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import time
from typing import Any

import zmq

HEADER = struct.Struct("!I")


def request(kind: str, request_id: int) -> bytes:
    return json.dumps({"v": 1, "type": kind, "id": request_id}).encode()


class StreamClient:
    def __init__(self, endpoint: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(endpoint[len("ipc://") :])
        self.sock.setblocking(False)
        self.buffer = bytearray()

    def send(self, payload: bytes) -> bool:
        message = HEADER.pack(len(payload)) + payload
        try:
            sent = self.sock.send(message)
        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
            return False
        if sent < len(message):  # the rest when there is room
            self.sock.setblocking(True)
            self.sock.sendall(message[sent:])
            self.sock.setblocking(False)
        return True

    def replies(self) -> list[bytes]:
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return []
        except OSError:
            return []
        self.buffer += data
        out = []
        while len(self.buffer) >= 4:
            (length,) = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < 4 + length:
                break
            out.append(bytes(self.buffer[4 : 4 + length]))
            del self.buffer[: 4 + length]
        return out


class ZmqClient:
    def __init__(self, endpoint: str, read: bool = True) -> None:
        self.sock: zmq.Socket[Any] = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.sndhwm = 100_000
        if not read:
            self.sock.rcvhwm = 1
        self.sock.connect(endpoint)

    def send(self, payload: bytes) -> bool:
        try:
            self.sock.send(payload, zmq.NOBLOCK)
        except zmq.Again:
            return False
        return True

    def replies(self) -> list[bytes]:
        out = []
        while True:
            try:
                out.append(self.sock.recv(zmq.NOBLOCK))
            except zmq.Again:
                return out


def client(args: argparse.Namespace, read: bool = True) -> StreamClient | ZmqClient:
    return ZmqClient(args.endpoint, read) if args.zmq else StreamClient(args.endpoint)


def tally(counts: dict[str, int], payload: bytes) -> None:
    try:
        reply = json.loads(payload)
        kind = reply["error"]["code"] if reply.get("type") == "error" else "answered"
    except (ValueError, KeyError, TypeError):
        kind = "unreadable"
    counts[kind] = counts.get(kind, 0) + 1


def flood(args: argparse.Namespace) -> dict[str, int]:
    one = client(args)
    counts = {"sent": 0}
    received = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        while counts["sent"] - received < args.depth and one.send(
            request(args.kind, counts["sent"])
        ):
            counts["sent"] += 1
        got = one.replies()
        for payload in got:
            tally(counts, payload)
        received += len(got)
        if not got:
            time.sleep(0.001)
    return counts


def unread(args: argparse.Namespace) -> dict[str, int]:
    clients, counts = [], {"sent": 0, "connected": 0}
    for _ in range(args.clients):
        try:
            one = client(args, read=False)
        except OSError:
            continue
        counts["connected"] += 1
        for n in range(args.depth):
            if not one.send(request(args.kind, n)):
                break
            counts["sent"] += 1
        clients.append(one)
    time.sleep(args.seconds)
    return counts


def shape(args: argparse.Namespace) -> dict[str, int]:
    if args.zmq:
        one = ZmqClient(args.endpoint)
        frame = b"x" * 60_000
        for _ in range(args.frames - 1):
            one.sock.send(frame, zmq.SNDMORE)
        one.sock.send(frame)
        time.sleep(args.seconds)
        return {"frames": args.frames}
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(args.endpoint[len("ipc://") :])
    sent = 0
    try:
        sock.sendall(HEADER.pack(args.announced))
        chunk = b"x" * (1 << 20)
        while sent < args.sent_mb << 20:
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass  # refused and closed
    time.sleep(args.seconds)
    return {"sent": sent}


def idle(args: argparse.Namespace) -> dict[str, int]:
    held = []
    deadline = time.monotonic() + 60
    for _ in range(args.clients):
        while time.monotonic() < deadline:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(args.endpoint[len("ipc://") :])
            except BlockingIOError:
                sock.close()  # the backlog is full: the server is accepting, again
                time.sleep(0.001)
                continue
            except OSError:
                sock.close()
                return {"connected": len(held), "refused": 1}  # (the server is gone)
            held.append(sock)
            break
    time.sleep(args.seconds)
    return {"connected": len(held)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("--mode", choices=("flood", "unread", "shape", "idle"), required=True)
    parser.add_argument("--kind", default="report")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--depth", type=int, default=1_500)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--frames", type=int, default=16_000)
    parser.add_argument("--announced", type=int, default=2**32 - 1)
    parser.add_argument("--sent-mb", type=int, default=200)
    parser.add_argument(
        "--zmq", action="store_true", help="speak ZeroMQ (tcp, or an old ipc server)"
    )
    parser.add_argument("--cpu", type=int, help="run on this CPU only")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    counts = {"flood": flood, "unread": unread, "shape": shape, "idle": idle}[args.mode](args)
    print(json.dumps(counts), flush=True)
    os._exit(0)  # abruptly, sockets and all


if __name__ == "__main__":
    main()
