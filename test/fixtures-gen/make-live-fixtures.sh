#!/usr/bin/env bash
# Regenerates fixtures/live/*: real scans (nmap, hping3, masscan, curl) between
# two network namespaces, captured on the server side by tcpdump and dumpcap.
#
#   hp-fx-atk  hp-fx-a0  198.18.0.1/24 fd00:18::1/64   attacker
#                        198.18.0.3/24 fd00:18::3/64   whitelisted source (same ns)
#   hp-fx-srv  hp-fx-s0  198.18.0.2/24 fd00:18::2/64   server (captures here)
#
#   make-live-fixtures.sh             every fixture
#   make-live-fixtures.sh ack-class   only the ACK-class and odd-flag scans
#
# Idempotent: stale namespaces from an aborted run are removed first, and the
# EXIT trap removes ours and stops every process this script started.
# Needs root and: iproute2 nmap hping3 masscan tcpdump tshark(dumpcap) curl python3.
# After capturing, run test/fixtures-gen/expect-from-tshark (see fixtures/README.md).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/fixtures/live"
ATK=hp-fx-atk
SRV=hp-fx-srv
IF_A=hp-fx-a0
IF_S=hp-fx-s0
A4=198.18.0.1 S4=198.18.0.2 W4=198.18.0.3
A6=fd00:18::1 S6=fd00:18::2 W6=fd00:18::3
# Policy ports (fixtures/policies/test-linux.yaml): tcp 135 139 445 3389, tcp6 5985 5986.
# The scans mix them with ports that are not honeypots (22 80 8080) and with
# policy ports over the wrong IP version (5985 over IPv4, 445 over IPv6).
PORTS4=22,80,135,139,445,3389,5985,8080
PORTS6=22,80,445,5985,5986,8080
NMAP=(nmap -n -Pn -T4 --max-retries 1 --host-timeout 30s)

TMP="$(mktemp -d /tmp/hp-fx.XXXXXX)"
BG_PIDS=()   # long-running helpers (listeners)
CAP_PIDS=()  # captures of the current fixture

cleanup() {
  local p
  for p in "${CAP_PIDS[@]}" "${BG_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${CAP_PIDS[@]}" "${BG_PIDS[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  ip netns del "$ATK" 2>/dev/null || true
  ip netns del "$SRV" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

inatk() { ip netns exec "$ATK" "$@"; }
insrv() { ip netns exec "$SRV" "$@"; }

setup_net() {
  ip netns del "$ATK" 2>/dev/null || true
  ip netns del "$SRV" 2>/dev/null || true
  ip netns add "$ATK"
  ip netns add "$SRV"
  ip link add "$IF_A" netns "$ATK" type veth peer name "$IF_S" netns "$SRV"
  inatk ip link set lo up
  insrv ip link set lo up
  inatk ip addr add "$A4/24" dev "$IF_A"
  inatk ip addr add "$W4/24" dev "$IF_A"
  inatk ip -6 addr add "$A6/64" dev "$IF_A" nodad
  # Deprecated (preferred_lft 0): never picked as a source unless asked for.
  inatk ip -6 addr add "$W6/64" dev "$IF_A" nodad preferred_lft 0
  insrv ip addr add "$S4/24" dev "$IF_S"
  insrv ip -6 addr add "$S6/64" dev "$IF_S" nodad
  # No TIME_WAIT entries: the server's outbound sessions reuse fixed local
  # ports (139, 5986) several times within a minute.
  inatk sysctl -qw net.ipv4.tcp_max_tw_buckets=0
  insrv sysctl -qw net.ipv4.tcp_max_tw_buckets=0
  inatk ip link set "$IF_A" up
  insrv ip link set "$IF_S" up
  # Static neighbour entries: no ARP/ND exchange in the middle of a scan.
  local mac_a mac_s a
  mac_a="$(inatk cat "/sys/class/net/$IF_A/address")"
  mac_s="$(insrv cat "/sys/class/net/$IF_S/address")"
  inatk ip neigh replace "$S4" lladdr "$mac_s" dev "$IF_A" nud permanent
  inatk ip -6 neigh replace "$S6" lladdr "$mac_s" dev "$IF_A" nud permanent
  for a in "$A4" "$W4" "$A6" "$W6"; do
    insrv ip neigh replace "$a" lladdr "$mac_a" dev "$IF_S" nud permanent
  done
}

start_listeners() {
  # Background jobs call `ip netns exec` directly (not through inatk/insrv):
  # a backgrounded shell function is a subshell, and $! would be its PID
  # rather than the PID of the process we need to stop.
  ip netns exec "$SRV" python3 "$HERE/listen.py" 4:22 4:80:http 4:445 4:3389 4:8080:http \
    6:22 6:80:http 6:5985 6:8080:http >"$TMP/srv-listen.out" 2>&1 &
  BG_PIDS+=($!)
  # The server's own outbound connections go to this listener on the attacker.
  ip netns exec "$ATK" python3 "$HERE/listen.py" 4:9000:http 6:9000:http \
    4:9001:http 6:9001:http 4:9002:http 6:9002:http >"$TMP/atk-listen.out" 2>&1 &
  BG_PIDS+=($!)
  wait_for "$TMP/srv-listen.out" ready
  wait_for "$TMP/atk-listen.out" ready
}

# wait_for FILE PATTERN: bounded poll (10 s) for a readiness line.
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

# cap_tcpdump FILE [tcpdump args]: capture on the server's veth (or as given).
cap_tcpdump() {
  local file="$1"; shift
  local log="$TMP/cap-${#CAP_PIDS[@]}.log"
  rm -f "$file"
  ip netns exec "$SRV" tcpdump -Z root -U -n -s 262144 "$@" -w "$file" >"$log" 2>&1 &
  CAP_PIDS+=($!)
  wait_for "$log" "listening on"
}

cap_dumpcap() {
  local file="$1"; shift
  local log="$TMP/cap-${#CAP_PIDS[@]}.log"
  rm -f "$file"
  ip netns exec "$SRV" dumpcap -q -i "$IF_S" -s 262144 "$@" -w "$file" >"$log" 2>&1 &
  CAP_PIDS+=($!)
  wait_for "$log" "Capturing on"
}

stop_caps() {
  local p
  sleep 1 # let the last replies and retransmissions land
  # SIGTERM, not SIGINT: bash starts background jobs with SIGINT ignored.
  for p in "${CAP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${CAP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  CAP_PIDS=()
}

quiet() { "$@" >/dev/null 2>&1; }

# The server's outbound session to the attacker, from a honeypot port number:
# its SYN-ACK/ACK/FIN come back *to* port 139 (IPv4) or 5986 (IPv6) and are no probes.
# Each call uses its own remote port (9000 + $1), a distinct session.
server_outbound() {
  local rport=$((9000 + $1))
  insrv curl -s -4 --max-time 5 --local-port 139 "http://$A4:$rport/" >/dev/null
  insrv curl -s -6 --max-time 5 --local-port 5986 "http://[$A6]:$rport/" >/dev/null
}

established() {
  inatk curl -s --max-time 5 "http://$S4:80/" >/dev/null
  inatk curl -s --max-time 5 "http://[$S6]:8080/" >/dev/null
  server_outbound "$1"
}

# ACK-class and odd-flag scans (issue 12) against the held ports 445 and
# 3389, around a completed connection to held 445 whose later segments
# (ACK, data, FIN+ACK) belong to it and are no probes.
ack_class() {
  echo "== nmap -sA, -sW, -sM and a completed connection to 445"
  cap_tcpdump "$OUT/nmap-sA-sW-sM.pcap" -i "$IF_S"
  inatk curl -s --max-time 2 "http://$S4:445/" >/dev/null || true
  inatk "${NMAP[@]}" -sA -p "$PORTS4" "$S4" >/dev/null
  inatk "${NMAP[@]}" -sW -p "$PORTS4" "$S4" >/dev/null
  inatk "${NMAP[@]}" -sM -p "$PORTS4" "$S4" >/dev/null
  inatk "${NMAP[@]}" -6 -sA -e "$IF_A" -S "$A6" -p "$PORTS6" "$S6" >/dev/null
  stop_caps

  echo "== nmap --scanflags URG, PSH, FINURG, FINPSH, ALL, SYNACK, FINACK"
  cap_tcpdump "$OUT/nmap-scanflags.pcap" -i "$IF_S"
  local f
  for f in URG PSH FINURG FINPSH ALL SYNACK FINACK; do
    inatk "${NMAP[@]}" --scanflags "$f" -p 135,445,3389,8080 "$S4" >/dev/null
  done
  stop_caps
}

mkdir -p "$OUT"
setup_net
start_listeners

if [ "${1:-}" = ack-class ]; then
  ack_class
  chmod 0644 "$OUT"/nmap-sA-sW-sM.pcap "$OUT"/nmap-scanflags.pcap
  exit 0
fi

echo "== nmap -sS (pcap us, pcap ns, pcapng of the same scan)"
cap_tcpdump "$OUT/nmap-sS.pcap" -i "$IF_S"
cap_tcpdump "$OUT/nmap-sS-ns.pcap" -i "$IF_S" --time-stamp-precision=nano
cap_dumpcap "$OUT/nmap-sS.pcapng"
inatk "${NMAP[@]}" -sS -p "$PORTS4" "$S4" >/dev/null
stop_caps

echo "== nmap -sT"
cap_tcpdump "$OUT/nmap-sT.pcap" -i "$IF_S"
inatk "${NMAP[@]}" -sT -p "$PORTS4" "$S4" >/dev/null
stop_caps

echo "== nmap -6 -sS"
cap_dumpcap "$OUT/nmap-6-sS.pcapng"
inatk "${NMAP[@]}" -6 -sS -e "$IF_A" -S "$A6" -p "$PORTS6" "$S6" >/dev/null
stop_caps

echo "== nmap -f -sS (8-byte IPv4 fragments)"
cap_tcpdump "$OUT/nmap-f.pcap" -i "$IF_S"
inatk "${NMAP[@]}" -f -sS -p "$PORTS4" "$S4" >/dev/null
stop_caps

echo "== nmap -sF, -sN, -sX"
cap_tcpdump "$OUT/nmap-sF-sN-sX.pcap" -i "$IF_S"
inatk "${NMAP[@]}" -sF -p "$PORTS4" "$S4" >/dev/null
inatk "${NMAP[@]}" -sN -p "$PORTS4" "$S4" >/dev/null
inatk "${NMAP[@]}" -sX -p "$PORTS4" "$S4" >/dev/null
stop_caps

echo "== hping3: SYN+ECE+CWR, SYN with payload, SYN+FIN"
cap_tcpdump "$OUT/hping3-ecn-payload.pcap" -i "$IF_S"
quiet inatk hping3 -I "$IF_A" -S -X -Y -p 445 -c 3 -i u20000 "$S4" || true
quiet inatk hping3 -I "$IF_A" -S -d 40 -p 3389 -c 2 -i u20000 "$S4" || true
quiet inatk hping3 -I "$IF_A" -S -F -p 139 -c 1 "$S4" || true
# Not probes: SYN+ACK and a bare ACK to a honeypot port.
quiet inatk hping3 -I "$IF_A" -S -A -p 445 -c 1 "$S4" || true
quiet inatk hping3 -I "$IF_A" -A -p 135 -c 1 "$S4" || true
stop_caps

echo "== hping3 -f (fragmented SYN with payload)"
cap_tcpdump "$OUT/hping3-frag.pcap" -i "$IF_S"
quiet inatk hping3 -I "$IF_A" -S -f -d 40 -p 135 -c 2 -i u20000 "$S4" || true
stop_caps

echo "== masscan"
cap_tcpdump "$OUT/masscan.pcap" -i "$IF_S"
SRV_MAC="$(insrv cat "/sys/class/net/$IF_S/address")"
quiet inatk masscan -e "$IF_A" --router-mac "$SRV_MAC" --source-ip "$A4" \
  -p 22,135,445,3389 --rate 200 --wait 1 "$S4" || true
stop_caps

echo "== tcpdump -i any (SLL2 by default, and SLL v1 via -y LINUX_SLL)"
cap_tcpdump "$OUT/any-sll2.pcap" -i any
cap_tcpdump "$OUT/any-sll.pcap" -i any -y LINUX_SLL
inatk "${NMAP[@]}" -sS -p 22,445,3389 "$S4" >/dev/null
inatk "${NMAP[@]}" -6 -sS -e "$IF_A" -S "$A6" -p 5985,5986 "$S6" >/dev/null
established 0
stop_caps

echo "== established sessions only (no probes)"
cap_tcpdump "$OUT/established-only.pcap" -i "$IF_S"
established 1
stop_caps

echo "== mixed traffic with whitelisted sources"
cap_dumpcap "$OUT/mixed-with-whitelist.pcapng"
inatk "${NMAP[@]}" -sS -p 139,445 "$S4" >/dev/null
inatk "${NMAP[@]}" -sS -e "$IF_A" -S "$W4" -p 135,445,3389 "$S4" >/dev/null
inatk curl -s --max-time 5 --interface "$W4" "http://$S4:445/" >/dev/null || true
inatk "${NMAP[@]}" -6 -sS -e "$IF_A" -S "$A6" -p 5985 "$S6" >/dev/null
inatk "${NMAP[@]}" -6 -sS -e "$IF_A" -S "$W6" -p 5985,5986 "$S6" >/dev/null
established 2
stop_caps

ack_class

chmod 0644 "$OUT"/*
echo "== done:"
ls -l "$OUT"
