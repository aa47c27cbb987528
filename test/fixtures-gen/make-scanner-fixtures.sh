#!/usr/bin/env bash
# Captures fixtures/scanners/*: the SYNs of real scanners (masscan, zmap,
# hping3, nmap's OS detection) between two network namespaces, for
# honeyport's own fingerprint signatures (src/fingerprint/honeyport-signatures.ts)
# and the p0f differential test. Captured on the target side by tcpdump.
#
#   hp-fp-atk  hp-fp-a0  198.18.0.1/24 fd00:18::1/64   scanner
#   hp-fp-srv  hp-fp-s0  198.18.0.2/24 fd00:18::2/64   target (listens on 22 and 445)
#
# Every tool targets only 198.18.0.2 / fd00:18::2 inside these namespaces,
# with bounded counts and rates. Run under the live lock:
#   sudo flock /tmp/honeyport-live.lock bash test/fixtures-gen/make-scanner-fixtures.sh
# The EXIT trap removes the namespaces and stops every process started here.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/fixtures/scanners"
ATK=hp-fp-atk SRV=hp-fp-srv IF_A=hp-fp-a0 IF_S=hp-fp-s0
A4=198.18.0.1 S4=198.18.0.2 A6=fd00:18::1 S6=fd00:18::2
TMP="$(mktemp -d /tmp/hp-fp.XXXXXX)"
PIDS=()

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$ATK" 2>/dev/null || true
  ip netns del "$SRV" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

inatk() { ip netns exec "$ATK" "$@"; }
insrv() { ip netns exec "$SRV" "$@"; }
quiet() { "$@" >"$TMP/last.log" 2>&1 || { echo "failed: $*" >&2; cat "$TMP/last.log" >&2; return 1; }; }

wait_for() {
  local i
  for i in $(seq 1 100); do
    if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}

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
MAC_A="$(inatk cat "/sys/class/net/$IF_A/address")"
MAC_S="$(insrv cat "/sys/class/net/$IF_S/address")"
inatk ip neigh replace "$S4" lladdr "$MAC_S" dev "$IF_A" nud permanent
inatk ip -6 neigh replace "$S6" lladdr "$MAC_S" dev "$IF_A" nud permanent
insrv ip neigh replace "$A4" lladdr "$MAC_A" dev "$IF_S" nud permanent
insrv ip -6 neigh replace "$A6" lladdr "$MAC_A" dev "$IF_S" nud permanent

# Listeners: nmap -O needs one open and one closed port.
ip netns exec "$SRV" python3 "$HERE/listen.py" 4:22 4:445 6:22 >"$TMP/listen.out" 2>&1 &
PIDS+=($!)
wait_for "$TMP/listen.out" ready

mkdir -p "$OUT"
# capture NAME COMMAND...: SYNs (no ACK) from the scanner, one pcap per tool.
capture() {
  local name="$1"; shift
  local file="$OUT/$name.pcap" log="$TMP/$name.tcpdump"
  rm -f "$file"
  ip netns exec "$SRV" tcpdump -Z root -U --immediate-mode -n -s 262144 -i "$IF_S" -w "$file" \
    '(ip or ip6) and tcp' >"$log" 2>&1 &
  local cap=$!
  PIDS+=($cap)
  wait_for "$log" "listening on"
  sleep 1  # "listening on" comes before the socket sees packets: short runs were missed
  echo "== $name: $*"
  "$@"
  sleep 0.5
  kill "$cap"; wait "$cap" 2>/dev/null || true
  grep -h "captured" "$log" >&2 || true
}

BLOCKLIST="$TMP/zmap-blocklist"   # zmap's default blocklist excludes 198.18.0.0/15
: >"$BLOCKLIST"

capture masscan-4 quiet inatk timeout 20 masscan -e "$IF_A" --router-mac "$MAC_S" --source-ip "$A4" \
  -p 22,135,445,3389 --rate 100 --wait 1 "$S4"
capture zmap-4 quiet inatk timeout 20 zmap -i "$IF_A" -S "$A4" -G "$MAC_S" -p 445 -b "$BLOCKLIST" \
  -r 50 -P 3 -c 1 -q -o /dev/null "$S4/32"
capture hping3-4 quiet inatk timeout 20 hping3 -S -p 445 -c 3 -i u100000 "$S4"
capture nmap-O-4 quiet inatk timeout 60 nmap -n -Pn -O --max-retries 1 -p 22,135 "$S4"
capture nmap-O-6 quiet inatk timeout 60 nmap -n -Pn -6 -O --max-retries 1 -e "$IF_A" -p 22,135 "$S6"
capture nmap-sS-6 quiet inatk timeout 30 nmap -n -Pn -6 -sS --max-retries 1 -e "$IF_A" -p 22,135,445,5985 "$S6"
ls -l "$OUT"
