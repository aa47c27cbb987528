/**
 * honeyport's own SYN signatures, in p0f v3's format, for scanners p0f.fp
 * lacks or misses. Read after p0f's database as one stream (so p0f's own
 * signatures come first), and alone when p0f is not installed: hence no
 * `classes` line and `sys` lines naming systems rather than @classes.
 * p0f 3.09b accepts p0f.fp followed by this text (the differential test
 * feeds it exactly that), so none of these is "already covered" there.
 *
 * Provenance: each group names the tool, its version and command, and the
 * capture it was read from — fixtures/scanners/* (captured by
 * test/fixtures-gen/make-scanner-fixtures.sh between two network namespaces
 * on Debian 12: target 198.18.0.2 / fd00:18::2, one hop, so observed TTL =
 * initial TTL) and fixtures/live/* (test/fixtures-gen/make-live-fixtures.sh).
 * The public capture ../shared/pcaps/esnet_masscan_tcp_0_1000.pcap (masscan
 * three hops away: TTL 252) matches the masscan signature too.
 *
 * Why the nmap OS-detection group: p0f.fp's own "NMap:OS detection"
 * signatures all carry `ack+`, which p0f sets from one bit of the random
 * ACK number (see syn-fields.ts), so about half of nmap's probes match
 * nothing there. The same probes without `ack+` are listed here.
 */
export const HONEYPORT_SIGNATURES_NAME = 'honeyport-signatures';

export const HONEYPORT_SIGNATURES = `
; honeyport's own scanner signatures (p0f v3 format); provenance in
; src/fingerprint/honeyport-signatures.ts of the honeyport sources.

[tcp:request]

; masscan 1.3.2: masscan -e IF --router-mac MAC --source-ip 198.18.0.1
;   -p 22,135,445,3389 --rate 100 --wait 1 198.18.0.2
; fixtures/scanners/masscan-4.pcap, fixtures/live/masscan.pcap:
;   4:255+0:0:0:1024,0:::0 (no options, random IP id, no DF)
label = s:!:masscan:SYN scan
sys   = Linux,FreeBSD,Mac OS X,Windows
sig   = 4:255:0:0:1024,0:::0

; zmap 2.1.1: zmap -i IF -S 198.18.0.1 -G MAC -p 445 -r 50 -P 3 198.18.0.2/32
; fixtures/scanners/zmap-4.pcap: 4:255+0:0:0:65535,0:::0 (IP id always 54321)
label = s:!:ZMap:SYN scan
sys   = Linux,FreeBSD,Mac OS X
sig   = 4:255:0:0:65535,0:::0

; hping3 3.0.0-alpha-2 defaults: hping3 -S -p 445 -c 3 198.18.0.2
; fixtures/scanners/hping3-4.pcap: 4:64+0:0:0:512,0:::0 and, when the random
; ACK number sets p0f's ack+ bit, 4:64+0:0:0:512,0::ack+:0.
; fixtures/live/hping3-ecn-payload.pcap: -X -Y (ecn) and -d 40 (payload).
label = s:!:hping3:SYN
sys   = Linux,FreeBSD,Mac OS X
sig   = 4:64:0:0:512,0:::*
sig   = 4:64:0:0:512,0::ack+:*
sig   = 4:64:0:0:512,0::ecn:*
sig   = 4:64:0:0:512,0::ecn,ack+:*

; nmap 7.93, IPv6 SYN scan: nmap -6 -sS -e IF -p 22,135,445,5985 fd00:18::2
; fixtures/scanners/nmap-sS-6.pcap, fixtures/live/nmap-6-sS.pcapng:
;   6:255+0:0:1460:1024,0:mss::0 (hop limit 255, unlike IPv4's random TTL,
;   so p0f's *:64-: signature misses it and a Linux generic matched fuzzily)
label = s:!:NMap:SYN scan
sys   = Linux,FreeBSD,Mac OS X,Windows
sig   = 6:255:0:1460:1024,0:mss::0

; nmap 7.93 OS detection, IPv4: nmap -O -p 22,135 198.18.0.2
; fixtures/scanners/nmap-O-4.pcap: the probes of p0f.fp's own NMap OS
; detection signatures, as sent when the ACK number leaves p0f's ack+ unset.
label = s:!:NMap:OS detection
sys   = Linux,FreeBSD,Mac OS X,Windows
sig   = *:64-:0:265:512,0:mss,sok,ts::0
sig   = *:64-:0:0:4,10:sok,ts,ws,eol+0::0
sig   = *:64-:0:1460:1,10:ws,nop,mss,ts,sok::0
sig   = *:64-:0:536:16,10:mss,sok,ts,ws,eol+0::0
sig   = *:64-:0:640:4,5:ts,nop,nop,ws,nop,mss::0
sig   = *:64-:0:1400:63,0:mss,ws,sok,ts,eol+0::0
sig   = *:64-:0:265:31337,10:ws,nop,mss,ts,sok::0

; nmap 7.93 OS detection, IPv6: nmap -6 -O -e IF -p 22,135 fd00:18::2
; fixtures/scanners/nmap-O-6.pcap: the same probes with a flow label (flow),
; random hop limit <= 64, and p0f's ack+ bit either way.
sig   = 6:64-:0:265:512,0:mss,sok,ts:flow:0
sig   = 6:64-:0:265:512,0:mss,sok,ts:flow,ack+:0
sig   = 6:64-:0:0:4,10:sok,ts,ws,eol+0:flow:0
sig   = 6:64-:0:0:4,10:sok,ts,ws,eol+0:flow,ack+:0
sig   = 6:64-:0:1460:1,10:ws,nop,mss,ts,sok:flow:0
sig   = 6:64-:0:1460:1,10:ws,nop,mss,ts,sok:flow,ack+:0
sig   = 6:64-:0:536:16,10:mss,sok,ts,ws,eol+0:flow:0
sig   = 6:64-:0:536:16,10:mss,sok,ts,ws,eol+0:flow,ack+:0
sig   = 6:64-:0:640:4,5:ts,nop,nop,ws,nop,mss:flow:0
sig   = 6:64-:0:640:4,5:ts,nop,nop,ws,nop,mss:flow,ack+:0
sig   = 6:64-:0:1400:63,0:mss,ws,sok,ts,eol+0:flow:0
sig   = 6:64-:0:1400:63,0:mss,ws,sok,ts,eol+0:flow,ack+:0
sig   = 6:64-:0:265:31337,10:ws,nop,mss,ts,sok:flow:0
sig   = 6:64-:0:265:31337,10:ws,nop,mss,ts,sok:flow,ack+:0
sig   = 6:64-:0:1460:3,10:ws,nop,mss,sok,nop,nop:ecn,flow,uptr+:0
`;
