#!/usr/bin/env python3
"""A TCP proxy that tests can stall or cut: what a reconciler sees when the network to its database fails.

Usage: tcp-proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT
Listens on 127.0.0.1:LISTEN_PORT and relays every connection to TARGET_HOST:TARGET_PORT, until:
  SIGUSR1  stall: stop relaying in both directions, keep every connection open (a hung database: no reset,
           no answer; only a deadline notices),
  SIGUSR2  cut: close every connection and stop listening (the server itself stays up),
  SIGTERM  exit.
Writes "ready" on standard output once listening.
"""
import selectors
import signal
import socket
import sys


def main() -> None:
    listen_port, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", listen_port))
    listener.listen(64)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    peers: dict[socket.socket, socket.socket] = {}
    state = {"stalled": False, "cut": False}

    def stall(*_: object) -> None:
        state["stalled"] = True

    def cut(*_: object) -> None:
        state["cut"] = True

    signal.signal(signal.SIGUSR1, stall)
    signal.signal(signal.SIGUSR2, cut)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    while True:
        if state["cut"]:
            for sock in list(peers):
                sock.close()
            peers.clear()
            listener.close()
            signal.pause()
            continue
        if state["stalled"]:
            signal.pause()
            continue
        for key, _ in selector.select(timeout=0.2):
            sock = key.fileobj
            if sock is listener:
                try:
                    client, _ = listener.accept()
                    upstream = socket.create_connection((host, port), timeout=5)
                except OSError:
                    continue
                for one in (client, upstream):
                    one.setblocking(False)
                    selector.register(one, selectors.EVENT_READ, None)
                peers[client], peers[upstream] = upstream, client
                continue
            other = peers.get(sock)
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data or other is None:
                for one in (sock, other):
                    if one is not None and one in peers:
                        selector.unregister(one)
                        one.close()
                        del peers[one]
                continue
            other.setblocking(True)
            other.sendall(data)
            other.setblocking(False)


if __name__ == "__main__":
    main()
