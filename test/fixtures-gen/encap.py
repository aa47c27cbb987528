#!/usr/bin/env python3
"""A userspace tunnel endpoint (sending side only) for the tunnel fixtures.

usage: encap.py MODE DEV LOCAL REMOTE [ID]

Creates the tun (layer 3) or tap (layer 2) device DEV, prints "ready", and
sends every packet the kernel routes into DEV to REMOTE inside MODE's
encapsulation, until killed:

  ip       tun; IP protocol 4 (IPv4 inside) or 41 (IPv6 inside), like ipip/sit/ip6tnl
  gre      tun; GRE carrying IPv4/IPv6, key ID when given, like gre/ip6gre
  gretap   tap; GRE carrying Ethernet (0x6558), key ID when given, like gretap/ip6gretap
  geneve   tap; Geneve on UDP 6081 carrying Ethernet, VNI ID, like geneve
  erspan2  tap; GRE (sequence numbers) + ERSPAN type II, session ID, like erspan_ver 1
  erspan3  tap; GRE (sequence numbers) + ERSPAN type III, session ID, like erspan_ver 2

Why it exists: the test machines' kernel has no ipip, gre, sit, ip6tnl,
ip6gre or geneve support (CONFIG_* not set, no modules). What is real: the
inner packets (nmap and the kernel stack write them into DEV) and the outer
IP/UDP headers (written by the kernel for the raw and UDP sockets used here);
only the tunnel header between them is written by this script, per its RFC.
The outer address family follows LOCAL. Nothing is ever received.
"""
import fcntl
import os
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000

mode, dev, local, remote = sys.argv[1:5]
ident = int(sys.argv[5]) if len(sys.argv) > 5 else None
layer2 = mode in ("gretap", "geneve", "erspan2", "erspan3")
family = socket.AF_INET6 if ":" in local else socket.AF_INET

fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", dev.encode(), (IFF_TAP if layer2 else IFF_TUN) | IFF_NO_PI))


def raw(proto):
    s = socket.socket(family, socket.SOCK_RAW, proto)
    s.bind((local, 0))
    return s


sockets = {}


def gre_header(proto, seq=None):
    flags = (0x2000 if ident is not None and not mode.startswith("erspan") else 0) | (0x1000 if seq is not None else 0)
    h = struct.pack("!HH", flags, proto)
    if flags & 0x2000:
        h += struct.pack("!I", ident)
    if seq is not None:
        h += struct.pack("!I", seq & 0xFFFFFFFF)
    return h


seq = 0
print("ready", flush=True)
while True:
    pkt = os.read(fd, 65535)
    if not pkt:
        continue
    seq += 1
    if mode == "ip":
        proto = 41 if pkt[0] >> 4 == 6 else 4
        s = sockets.get(proto) or sockets.setdefault(proto, raw(proto))
        s.sendto(pkt, (remote, 0))
    elif mode in ("gre", "gretap"):
        et = 0x6558 if mode == "gretap" else (0x86DD if pkt[0] >> 4 == 6 else 0x0800)
        s = sockets.get(47) or sockets.setdefault(47, raw(47))
        s.sendto(gre_header(et) + pkt, (remote, 0))
    elif mode == "geneve":
        s = sockets.get("udp")
        if s is None:
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.bind((local, 0))
            sockets["udp"] = s
        vni = ident or 0
        s.sendto(struct.pack("!BBHI", 0, 0, 0x6558, vni << 8) + pkt, (remote, 6081))
    elif mode in ("erspan2", "erspan3"):
        session = (ident or 0) & 0x3FF
        if mode == "erspan2":
            hdr = struct.pack("!HHI", 0x1000, session, 0)  # version 1, vlan 0; session; index 0
            et = 0x88BE
        else:
            # version 2, vlan 0; session; timestamp; sgt 0; flags (O clear)
            hdr = struct.pack("!HHIHH", 0x2000, session, seq & 0xFFFFFFFF, 0, 0)
            et = 0x22EB
        s = sockets.get(47) or sockets.setdefault(47, raw(47))
        s.sendto(gre_header(et, seq) + hdr + pkt, (remote, 0))
    else:
        sys.exit("unknown mode " + mode)
