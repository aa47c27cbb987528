/**
 * Child of listening-table.test.ts, run as root inside its network namespace:
 * prints one JSON line with every listening TCP socket as the netlink dump
 * and as /proc/net/tcp* read them. With `--as UID`, it becomes that user —
 * groups, gid, uid; the kernel clears the capability sets on the switch from
 * uid 0 — after loading its modules and building its readers (which loads
 * the addon), before reading: the order of the sensor's privilege drop.
 * (Started as that user it could not even load them from a checkout under
 * /root, which is 0700.)
 */
import { readFileSync } from 'node:fs';
import { ListeningTableReader, type ListeningTable } from '../../src/ports/listening-table.js';
import type { ListeningSocket } from '../../src/ports/proc-net.js';

const everyPort = new Set(Array.from({ length: 65536 }, (_, i) => i));

const text = (s: ListeningSocket): string => `${Buffer.from(s.address).toString('hex')} ${s.port} uid=${s.uid} inode=${s.inode}`;
const view = (t: ListeningTable) => ({ complete: t.complete, v4: t.v4.map(text).sort(), v6: t.v6.map(text).sort() });

const fallbacks: string[] = [];
const netlink = new ListeningTableReader({ onFallback: (reason) => fallbacks.push(reason) });
const procfs = new ListeningTableReader({ netlink: null });
// The sensor builds its reader (and loads the addon) as root and reads after the drop: so does this child.
const asIndex = process.argv.indexOf('--as');
if (asIndex > 0) {
  const id = Number(process.argv[asIndex + 1]);
  process.setgroups?.([]);
  process.setgid?.(id);
  process.setuid?.(id);
}
const capEff = /^CapEff:\s+(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
const fromNetlink = await netlink.read(everyPort);
const fromProc = await procfs.read(everyPort);
process.stdout.write(
  `${JSON.stringify({ source: netlink.source, fallbacks, uid: process.getuid?.(), gid: process.getgid?.(), capEff, netlink: view(fromNetlink), procfs: view(fromProc) })}\n`,
);
