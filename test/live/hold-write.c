/*
 * Test helper, preloaded into the sensor (LD_PRELOAD) by
 * sensor-stop-startup.test.ts: holds the one write() to stderr whose bytes
 * begin with $HONEYPORT_HOLD_PREFIX for $HONEYPORT_HOLD_MS, before the
 * kernel runs it ($HONEYPORT_HOLD_AT=enter) or after (exit). strace cannot
 * pick that write: it counts calls, and the main thread's other writes
 * (libuv wake-ups) vary in number from run to run. Only the first match is
 * held. A signal's handler runs during the hold; the hold then goes on.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void hold(long ms) {
  struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&left, &left) == -1 && errno == EINTR) {
  }
}

ssize_t write(int fd, const void* buf, size_t n) {
  static ssize_t (*real)(int, const void*, size_t);
  static int done;
  if (!real) real = (ssize_t (*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  const char* prefix = getenv("HONEYPORT_HOLD_PREFIX");
  size_t len = prefix ? strlen(prefix) : 0;
  if (done || fd != 2 || len == 0 || n < len || memcmp(buf, prefix, len) != 0) return real(fd, buf, n);
  done = 1;
  const char* ms = getenv("HONEYPORT_HOLD_MS");
  const char* at = getenv("HONEYPORT_HOLD_AT");
  int after = at && strcmp(at, "exit") == 0;
  if (!after) hold(ms ? atol(ms) : 0);
  int saved;
  ssize_t r = real(fd, buf, n);
  saved = errno;
  if (after) hold(ms ? atol(ms) : 0);
  errno = saved;
  return r;
}
