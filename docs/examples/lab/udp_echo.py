"""Steady traffic through the lab's tunnel: a UDP echo with sequence numbers, and what a trace of it says.

``echo`` answers every datagram with the same bytes. ``send`` sends one datagram every 1/rate seconds,
numbered, and appends one line per event to a trace file: ``s <seq> <time>`` when sent, ``r <seq> <time>``
when its echo came back. Times are CLOCK_MONOTONIC, the same clock in every namespace and in the process
that reads the trace, so a trace can be cut at the moments a playbook run started and ended.

Run as ``python udp_echo.py echo|send ...`` inside a namespace (``EchoTraffic`` does that); nothing here
depends on anything but the standard library.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PORT = 7077
HEADER = struct.Struct("!Q")  # the sequence number; the rest of the datagram is padding


def echo(bind, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((bind, port))
        while True:
            data, peer = sock.recvfrom(2048)
            sock.sendto(data, peer)


def send(bind, to, port, rate, trace, size=64):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    interval = 1.0 / rate
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, open(trace, "w", buffering=1) as out:
        sock.bind((bind, 0))
        sock.setblocking(False)
        start = time.monotonic()
        seq = 0
        while not stop:
            due = start + seq * interval
            now = time.monotonic()
            if now >= due:
                try:
                    sock.sendto(HEADER.pack(seq) + bytes(size - HEADER.size), (to, port))
                except OSError:
                    pass  # no route or no buffer for a moment: the packet counts as lost
                out.write(f"s {seq} {now:.6f}\n")
                seq += 1
                continue
            readable = select.select([sock], [], [], due - now)[0]
            while readable:
                try:
                    data = sock.recv(2048)
                except BlockingIOError:
                    break
                out.write(f"r {HEADER.unpack_from(data)[0]} {time.monotonic():.6f}\n")


@dataclass
class Window:
    """What the trace shows between two moments: packets sent, their echoes lost, the longest silence."""

    sent: int
    lost: int
    longest_gap: float  # seconds between two echoes arriving back to back (or the window's edge)


class Trace:
    def __init__(self, path):
        self.sent = {}
        self.answered = {}
        for line in Path(path).read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:
                (self.sent if parts[0] == "s" else self.answered).setdefault(int(parts[1]), float(parts[2]))

    def window(self, start, end, settle=1.0):
        """Packets sent in [start, end], lost if no echo came within ``settle`` s; and the longest gap in the
        arrival of echoes over [start, end]."""
        horizon = max([*self.sent.values(), *self.answered.values()], default=0.0)
        # A packet whose echo may still be on its way when the trace ends counts neither way.
        sent = [seq for seq, at in self.sent.items()
                if start <= at <= end and (seq in self.answered or at + settle <= horizon)]
        lost = sum(1 for seq in sent if self.answered.get(seq, float("inf")) > self.sent[seq] + settle)
        arrivals = sorted(at for at in self.answered.values() if start <= at <= end)
        edges = [start, *arrivals, end]
        gap = max(b - a for a, b in zip(edges, edges[1:]))
        return Window(len(sent), lost, gap)

    def last_answer(self):
        return max(self.answered.values(), default=None)


class EchoTraffic:
    """The echo in the edge's namespace and the sender in the router's, between their inside addresses.

    A context manager; the trace file outlives it. ``python udp_echo.py`` runs with this interpreter.
    """

    def __init__(self, lab, trace, rate=50):
        self.lab = lab
        self.trace = Path(trace)
        self.rate = rate
        self.processes = []

    def _spawn(self, node, *args):
        command = ["ip", "netns", "exec", node.netns, sys.executable, __file__, *args]
        self.processes.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))

    def __enter__(self):
        edge, router = self.lab.edge, self.lab.router
        self._spawn(edge, "echo", "--bind", edge.inner_address)
        time.sleep(0.2)  # the echo binds first, so the first packets are not refused
        self._spawn(router, "send", "--bind", router.inner_address, "--to", edge.inner_address,
                    "--rate", str(self.rate), "--trace", str(self.trace))
        deadline = time.monotonic() + 5
        while not self.trace.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def read(self):
        return Trace(self.trace)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("echo", "send"))
    parser.add_argument("--bind", required=True)
    parser.add_argument("--to")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--rate", type=float, default=50.0, help="packets per second")
    parser.add_argument("--trace", help="the sender's trace file")
    args = parser.parse_args(argv)
    if args.mode == "echo":
        echo(args.bind, args.port)
    else:
        send(args.bind, args.to, args.port, args.rate, args.trace)
    return 0


if __name__ == "__main__":
    if os.geteuid() == 0:
        os.nice(-5)  # a steady 50 packets/s on a busy machine: the lab runs as root
    sys.exit(main())
