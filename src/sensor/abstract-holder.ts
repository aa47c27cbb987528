/**
 * Who holds an abstract Unix socket name, as the kernel sees it: the inodes
 * bound to `@name` in /proc/net/unix (this network namespace's table), then
 * the processes with a descriptor on one of them (/proc/PID/fd). Used to
 * name a squatter on the host lock, and to catch one that claims to be a
 * honeyport sensor. Best effort and bounded by the process count: without
 * root (or CAP_SYS_PTRACE) other users' descriptors cannot be read, and the
 * answer is then empty rather than wrong.
 */
import { readdir, readFile, readlink, stat } from 'node:fs/promises';

export interface SocketHolder {
  readonly pid: number;
  readonly command: string;
  readonly uid: number;
}

/**
 * Inodes of sockets bound to `@name` in /proc/net/unix text. Node binds an
 * abstract name padded with NULs to the full sun_path, which the kernel
 * prints as trailing `@`s: those are accepted too.
 */
export function abstractInodes(procNetUnix: string, name: string): Set<string> {
  const inodes = new Set<string>();
  const wanted = `@${name}`;
  for (const line of procNetUnix.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Num RefCount Protocol Flags Type St Inode Path
    const path = f[7];
    if (f.length >= 8 && path !== undefined && path.startsWith(wanted) && /^@*$/.test(path.slice(wanted.length))) inodes.add(f[6]!);
  }
  return inodes;
}

export async function abstractSocketHolders(name: string, procRoot = '/proc'): Promise<SocketHolder[]> {
  let inodes: Set<string>;
  try {
    inodes = abstractInodes(await readFile(`${procRoot}/net/unix`, 'utf8'), name);
  } catch {
    return [];
  }
  if (inodes.size === 0) return [];
  const wanted = new Set([...inodes].map((i) => `socket:[${i}]`));
  const holders: SocketHolder[] = [];
  const pids = (await readdir(procRoot).catch(() => [] as string[])).filter((p) => /^\d+$/.test(p));
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(`${procRoot}/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      const target = await readlink(`${procRoot}/${pid}/fd/${fd}`).catch(() => '');
      if (!wanted.has(target)) continue;
      const command = (await readFile(`${procRoot}/${pid}/comm`, 'utf8').catch(() => '?')).trim();
      const uid = (await stat(`${procRoot}/${pid}`).catch(() => ({ uid: -1 }))).uid;
      holders.push({ pid: Number(pid), command, uid });
      break;
    }
  }
  return holders;
}
