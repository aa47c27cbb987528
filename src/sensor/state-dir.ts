/**
 * The state directory holds the status socket, which the sensor (often
 * root) creates and unlinks there. Whoever can write to that directory
 * could swap what the sensor touches for a link to any file, so it must be
 * the sensor's own: created 0750 when missing; otherwise a real directory
 * (not a symbolic link), owned by the sensor's effective user, and not
 * writable by group or others. Checked with lstat before anything is
 * created in it. The parent directories are not judged: the socket is
 * created under a restrictive umask and nothing is ever chmod'ed by path,
 * so a swapped directory can at worst receive a socket only the sensor's
 * user may use.
 */
import { lstat, mkdir } from 'node:fs/promises';

/** Resolves when `dir` is fit to hold the status socket; rejects with a one-line reason. */
export async function prepareStateDir(dir: string, euid = process.geteuid?.() ?? 0): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const st = await lstat(dir);
  if (st.isSymbolicLink()) throw new Error('is a symbolic link; give the directory itself');
  if (!st.isDirectory()) throw new Error('is not a directory');
  if (st.uid !== euid) throw new Error(`is owned by uid ${st.uid}, not by the sensor's user (uid ${euid}); chown it or let the sensor create it`);
  if ((st.mode & 0o022) !== 0) throw new Error(`is writable by ${(st.mode & 0o002) !== 0 ? 'others' : 'its group'} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); chmod go-w it`);
}
