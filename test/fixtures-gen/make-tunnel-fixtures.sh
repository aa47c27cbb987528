#!/usr/bin/env bash
# Regenerates fixtures/tunnels/*: nmap scans of a decoy address on an overlay,
# captured by tcpdump on the underlay (the server's veth), one file per
# encapsulation. Run under the live lock:
#   flock /tmp/honeyport-live.lock test/fixtures-gen/make-tunnel-fixtures.sh
#
#   hp-tn-atk  hp-tn-a0  198.18.0.1/24 fd00:18::1/64   attacker (tunnel sender)
#   hp-tn-srv  hp-tn-s0  198.18.0.2/24 fd00:18::2/64   server (captures here)
#
# Overlays: attacker 198.19.N.1 / fd00:19:N::1, server 198.19.N.2 / fd00:19:N::2.
# VXLAN uses the kernel's vxlan devices on both sides (the server decapsulates
# and answers through the tunnel). Every other encapsulation comes from
# test/fixtures-gen/encap.py on a tun/tap device, because this kernel has no
# ipip/gre/sit/ip6tnl/ip6gre/geneve/erspan devices (see fixtures/README.md):
# the server does not decapsulate those, so only the probes are captured.
#
# Idempotent; the EXIT trap removes the namespaces and stops every process
# this script started. Needs root, iproute2, nmap, tcpdump, python3.
# Afterwards: node dist/test/fixtures-gen/expect-from-tshark.js fixtures/tunnels
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/fixtures/tunnels"
ATK=hp-tn-atk
SRV=hp-tn-srv
IF_A=hp-tn-a0
IF_S=hp-tn-s0
A4=198.18.0.1 S4=198.18.0.2
A6=fd00:18::1 S6=fd00:18::2
# Policy ports (fixtures/policies/test-linux.yaml): tcp 135 139 445 3389, tcp6 5985 5986.
PORTS4=22,135,445,3389,5985
PORTS6=22,445,5985,5986
# --send-ip: through the kernel (its static neighbour entries), not nmap's own ARP,
# which no one answers on a one-way tunnel.
NMAP=(nmap -n -Pn -T4 --max-retries 1 --host-timeout 30s --send-ip)
FAKE_MAC=02:00:00:00:19:02

TMP="$(mktemp -d /tmp/hp-tn.XXXXXX)"
BG_PIDS=()
CAP_PIDS=()

cleanup() {
  local p
  for p in "${CAP_PIDS[@]}" "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${CAP_PIDS[@]}" "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$ATK" 2>/dev/null || true
  ip netns del "$SRV" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

inatk() { ip netns exec "$ATK" "$@"; }
insrv() { ip netns exec "$SRV" "$@"; }

wait_for() {
  local i
  for i in $(seq 1 100); do
    if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

setup_net() {
  ip netns del "$ATK" 2>/dev/null || true
  ip netns del "$SRV" 2>/dev/null || true
  ip netns add "$ATK"
  ip netns add "$SRV"
  ip link add "$IF_A" netns "$ATK" type veth peer name "$IF_S" netns "$SRV"
  inatk ip link set lo up
  insrv ip link set lo up
  inatk ip addr add "$A4/24" dev "$IF_A"
  inatk ip -6 addr add "$A6/64" dev "$IF_A" nodad
  insrv ip addr add "$S4/24" dev "$IF_S"
  insrv ip -6 addr add "$S6/64" dev "$IF_S" nodad
  inatk ip link set "$IF_A" up
  insrv ip link set "$IF_S" up
  local mac_a mac_s
  mac_a="$(inatk cat "/sys/class/net/$IF_A/address")"
  mac_s="$(insrv cat "/sys/class/net/$IF_S/address")"
  inatk ip neigh replace "$S4" lladdr "$mac_s" dev "$IF_A" nud permanent
  inatk ip -6 neigh replace "$S6" lladdr "$mac_s" dev "$IF_A" nud permanent
  insrv ip neigh replace "$A4" lladdr "$mac_a" dev "$IF_S" nud permanent
  insrv ip -6 neigh replace "$A6" lladdr "$mac_a" dev "$IF_S" nud permanent
}

# overlay_addrs NS DEV N SIDE: 198.19.N.SIDE/24 and fd00:19:N::SIDE/64 on DEV.
overlay_addrs() {
  ip netns exec "$1" ip addr add "198.19.$3.$4/24" dev "$2"
  ip netns exec "$1" ip -6 addr add "fd00:19:$3::$4/64" dev "$2" nodad
  ip netns exec "$1" ip link set "$2" up
}

# encap_dev MODE DEV N LOCAL REMOTE [ID]: encap.py in the attacker, overlay N on DEV.
encap_dev() {
  local mode="$1" dev="$2" n="$3" log="$TMP/encap-$2.log"
  shift 3
  ip netns exec "$ATK" python3 "$HERE/encap.py" "$mode" "$dev" "$@" >"$log" 2>&1 &
  BG_PIDS+=($!)
  wait_for "$log" ready
  inatk ip link set "$dev" mtu 1400
  overlay_addrs "$ATK" "$dev" "$n" 1
  if [ "$mode" != ip ] && [ "$mode" != gre ]; then
    # Layer 2: no ARP/ND answer comes back through a one-way tunnel.
    inatk ip neigh replace "198.19.$n.2" lladdr "$FAKE_MAC" dev "$dev" nud permanent
    inatk ip -6 neigh replace "fd00:19:$n::2" lladdr "$FAKE_MAC" dev "$dev" nud permanent
  fi
}

# vxlan_pair DEV VNI N LOCAL REMOTE: kernel vxlan devices on both sides.
vxlan_pair() {
  local dev="$1" vni="$2" n="$3" la="$4" ls="$5"
  inatk ip link add "$dev" type vxlan id "$vni" local "$la" remote "$ls" dstport 4789 dev "$IF_A"
  insrv ip link add "$dev" type vxlan id "$vni" local "$ls" remote "$la" dstport 4789 dev "$IF_S"
  overlay_addrs "$ATK" "$dev" "$n" 1
  overlay_addrs "$SRV" "$dev" "$n" 2
  local mac_a mac_s
  mac_a="$(inatk cat "/sys/class/net/$dev/address")"
  mac_s="$(insrv cat "/sys/class/net/$dev/address")"
  inatk ip neigh replace "198.19.$n.2" lladdr "$mac_s" dev "$dev" nud permanent
  inatk ip -6 neigh replace "fd00:19:$n::2" lladdr "$mac_s" dev "$dev" nud permanent
  insrv ip neigh replace "198.19.$n.1" lladdr "$mac_a" dev "$dev" nud permanent
  insrv ip -6 neigh replace "fd00:19:$n::1" lladdr "$mac_a" dev "$dev" nud permanent
}

cap() {
  local file="$1"; shift
  local log="$TMP/cap-${#CAP_PIDS[@]}.log"
  rm -f "$file"
  ip netns exec "$SRV" tcpdump -Z root -U -n -s 262144 -i "$IF_S" -w "$file" "$@" >"$log" 2>&1 &
  CAP_PIDS+=($!)
  wait_for "$log" "listening on"
}

stop_caps() {
  local p
  sleep 1
  for p in "${CAP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${CAP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  CAP_PIDS=()
}

scan4() { inatk "${NMAP[@]}" -sS -e "$1" -S "198.19.$2.1" -p "$PORTS4" "198.19.$2.2" >/dev/null; }
scan6() { inatk "${NMAP[@]}" -6 -sS -e "$1" -S "fd00:19:$2::1" -p "$PORTS6" "fd00:19:$2::2" >/dev/null; }

mkdir -p "$OUT"
setup_net
# Server listeners on every overlay (open 22, 445; 135, 3389, 5985, 5986 closed).
ip netns exec "$SRV" python3 "$HERE/listen.py" 4:22 4:445 6:22 6:5985 >"$TMP/listen.out" 2>&1 &
BG_PIDS+=($!)
wait_for "$TMP/listen.out" ready

echo "== vxlan (kernel): VNI 100 and VNI 200 with the same inner addresses, IPv4 and IPv6 inside"
vxlan_pair hp-vx100 100 5 "$A4" "$S4"
vxlan_pair hp-vx200 200 5 "$A4" "$S4"
cap "$OUT/vxlan-two-vnis.pcap" udp port 4789
scan4 hp-vx100 5
scan4 hp-vx200 5
scan6 hp-vx100 5
stop_caps

echo "== vxlan (kernel) over an IPv6 underlay"
vxlan_pair hp-vx6 300 6 "$A6" "$S6"
cap "$OUT/vxlan-ipv6-underlay.pcap" udp port 4789
scan4 hp-vx6 6
stop_caps

echo "== IPv4-in-IPv4 (ipip) and IPv6-in-IPv4 (sit)"
encap_dev ip hp-ipip 1 "$A4" "$S4"
cap "$OUT/ipip-sit.pcap" ip proto 4 or ip proto 41
scan4 hp-ipip 1
scan6 hp-ipip 1
stop_caps

echo "== IPv4-in-IPv6 and IPv6-in-IPv6 (ip6tnl)"
encap_dev ip hp-ip6tnl 2 "$A6" "$S6"
cap "$OUT/ip6tnl.pcap" ip6 proto 4 or ip6 proto 41
scan4 hp-ip6tnl 2
scan6 hp-ip6tnl 2
stop_caps

echo "== GRE with key 7 (IPv4 and IPv6 inside), over IPv4 (gre) and IPv6 (ip6gre)"
encap_dev gre hp-gre 3 "$A4" "$S4" 7
encap_dev gre hp-ip6gre 4 "$A6" "$S6"
cap "$OUT/gre-ip6gre.pcap" proto 47
scan4 hp-gre 3
scan6 hp-gre 3
scan4 hp-ip6gre 4
stop_caps

echo "== gretap (Ethernet over GRE) and geneve (VNI 3000)"
encap_dev gretap hp-gretap 7 "$A4" "$S4"
encap_dev geneve hp-geneve 8 "$A4" "$S4" 3000
cap "$OUT/gretap-geneve.pcap" proto 47 or udp port 6081
scan4 hp-gretap 7
scan4 hp-geneve 8
scan6 hp-geneve 8
stop_caps

echo "== ERSPAN type II (session 100) and type III over IPv6 (session 7)"
encap_dev erspan2 hp-erspan2 9 "$A4" "$S4" 100
encap_dev erspan3 hp-erspan3 10 "$A6" "$S6" 7
cap "$OUT/erspan.pcap" proto 47
scan4 hp-erspan2 9
scan4 hp-erspan3 10
stop_caps

echo "== nested: kernel VXLAN (VNI 400) whose underlay is the GRE overlay"
inatk ip link add hp-vxgre type vxlan id 400 local 198.19.3.1 remote 198.19.3.2 dstport 4789
inatk ip link set hp-vxgre mtu 1300
overlay_addrs "$ATK" hp-vxgre 11 1
inatk ip neigh replace 198.19.11.2 lladdr "$FAKE_MAC" dev hp-vxgre nud permanent
cap "$OUT/vxlan-in-gre.pcap" proto 47
scan4 hp-vxgre 11
stop_caps

chmod 0644 "$OUT"/*
echo "== done:"
ls -l "$OUT"
