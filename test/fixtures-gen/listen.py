#!/usr/bin/env python3
"""Tiny TCP listeners for the fixture namespaces (no nc/socat needed).

usage: listen.py [4|6]:PORT[:http] ...
Each accepted connection is answered with a short HTTP response when the
port is marked ":http" (so curl sees an established, two-way session), and
closed at once otherwise (so nmap -sT completes its handshake). Runs until
killed; the generator kills it by PID.
"""
import selectors
import socket
import sys

sel = selectors.DefaultSelector()
for spec in sys.argv[1:]:
    parts = spec.split(":")
    family = socket.AF_INET6 if parts[0] == "6" else socket.AF_INET
    port = int(parts[1])
    http = len(parts) > 2 and parts[2] == "http"
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::", port))
    else:
        s.bind(("0.0.0.0", port))
    s.listen(64)
    sel.register(s, selectors.EVENT_READ, http)

print("ready", flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept()
        try:
            if key.data:
                conn.settimeout(2.0)
                try:
                    conn.recv(4096)
                except OSError:
                    pass
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nhi\n")
        except OSError:
            pass
        finally:
            conn.close()
