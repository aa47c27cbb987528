/**
 * The state directory holds the status socket, which the sensor creates and
 * unlinks there. Whoever can write to that directory could swap what the
 * sensor touches for a link to any file, so it must be the sensor's own:
 * created 0750 when missing; otherwise a real directory (not a symbolic
 * link), owned by the sensor's user, and not writable by group or others.
 * Checked with lstat before anything is created in it. The parent
 * directories are not judged: the socket is created under a restrictive
 * umask and nothing is ever chmod'ed by path, so a swapped directory can at
 * worst receive a socket only the sensor's user may use.
 *
 * The sensor's user is the one it runs as once started: root creates the
 * directory for the user it drops to (privilege-drop.ts) and hands it over
 * with fchown on the directory it opened without following links — and
 * only a directory it just made itself (still root's, not group- or
 * world-writable).
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';

export interface StateDirOwner {
  readonly uid: number;
  readonly gid: number;
}

/** Resolves when `dir` is fit to hold the status socket of a sensor running as `owner`; rejects with a one-line reason. */
export async function prepareStateDir(dir: string, owner?: StateDirOwner): Promise<void> {
  const euid = process.geteuid?.() ?? 0;
  const created = await mkdir(dir, { recursive: true, mode: 0o750 });
  if (created !== undefined && owner !== undefined && owner.uid !== euid) await handOver(dir, owner, euid);
  const uid = owner?.uid ?? euid;
  const st = await lstat(dir);
  if (st.isSymbolicLink()) throw new Error('is a symbolic link; give the directory itself');
  if (!st.isDirectory()) throw new Error('is not a directory');
  if ((st.mode & 0o022) !== 0) throw new Error(`is writable by ${(st.mode & 0o002) !== 0 ? 'others' : 'its group'} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); chmod go-w it`);
  if (st.uid !== uid) throw new Error(`is owned by uid ${st.uid}, not by the sensor's user (uid ${uid}); chown it or let the sensor create it`);
}

/** fchown of the directory just created, if it is still the one we made. */
async function handOver(dir: string, owner: StateDirOwner, euid: number): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    if (st.uid === euid && (st.mode & 0o7022) === 0) await fh.chown(owner.uid, owner.gid);
  } finally {
    await fh.close();
  }
}
