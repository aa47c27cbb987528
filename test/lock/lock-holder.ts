/** Child process for the lock tests: takes the lock on argv[2], prints "locked", idles until killed. */
import { lockDirectory } from '../../src/lock/dir-lock.js';

await lockDirectory(process.argv[2]!);
process.stdout.write('locked\n');
setInterval(() => undefined, 1000);
