/**
 * Child of listening-table.test.ts, run inside its network namespace (and
 * possibly as an unprivileged user): prints one JSON line with every listening
 * TCP socket as the netlink dump and as /proc/net/tcp* read them.
 */
import { ListeningTableReader, type ListeningTable } from '../../src/ports/listening-table.js';
import type { ListeningSocket } from '../../src/ports/proc-net.js';

const everyPort = new Set(Array.from({ length: 65536 }, (_, i) => i));

const text = (s: ListeningSocket): string => `${Buffer.from(s.address).toString('hex')} ${s.port} uid=${s.uid} inode=${s.inode}`;
const view = (t: ListeningTable) => ({ complete: t.complete, v4: t.v4.map(text).sort(), v6: t.v6.map(text).sort() });

const fallbacks: string[] = [];
const netlink = new ListeningTableReader({ onFallback: (reason) => fallbacks.push(reason) });
const procfs = new ListeningTableReader({ netlink: null });
const fromNetlink = await netlink.read(everyPort);
const fromProc = await procfs.read(everyPort);
process.stdout.write(
  `${JSON.stringify({ source: netlink.source, fallbacks, uid: process.getuid?.(), netlink: view(fromNetlink), procfs: view(fromProc) })}\n`,
);
