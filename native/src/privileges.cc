#include "privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace honeyport {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// No libcap: the two-word (version 3) capset is all that is needed.
bool SetCapabilities(const std::vector<int>& keep, std::string* error) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;  // this thread
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  for (int cap : keep) {
    if (cap < 0 || cap >= 32 * _LINUX_CAPABILITY_U32S_3) {
      *error = "capability number out of range: " + std::to_string(cap);
      return false;
    }
    data[cap / 32].permitted |= 1u << (cap % 32);
    data[cap / 32].effective |= 1u << (cap % 32);
  }
  if (syscall(SYS_capset, &header, data) != 0) {
    *error = Errno("capset");
    return false;
  }
  return true;
}

bool Kept(const std::vector<int>& keep, int cap) {
  for (int k : keep) {
    if (k == cap) return true;
  }
  return false;
}

}  // namespace

bool LookupUser(const std::string& name, UserEntry* out, std::string* error) {
  error->clear();
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<size_t>(size) : 16384);
  passwd entry{};
  passwd* found = nullptr;
  for (;;) {
    const int rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    // POSIX lets "not found" come back as 0, ENOENT, ESRCH, EBADF or EPERM.
    if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM) {
      *error = std::string("getpwnam_r: ") + std::strerror(rc);
      return false;
    }
    break;
  }
  if (found == nullptr) return false;
  out->uid = found->pw_uid;
  out->gid = found->pw_gid;
  return true;
}

bool AssumeUser(uint32_t uid, uint32_t gid, std::string* error) {
  // Group first: once the euid is not 0, CAP_SETGID is gone.
  if (setgroups(0, nullptr) != 0) return *error = Errno("setgroups"), false;
  if (setresgid(static_cast<gid_t>(-1), gid, static_cast<gid_t>(-1)) != 0) return *error = Errno("setresgid"), false;
  if (setresuid(static_cast<uid_t>(-1), uid, static_cast<uid_t>(-1)) != 0) return *error = Errno("setresuid"), false;
  return true;
}

bool ResumeRoot(std::string* error) {
  if (setresuid(static_cast<uid_t>(-1), 0, static_cast<uid_t>(-1)) != 0) return *error = Errno("setresuid"), false;
  if (setresgid(static_cast<gid_t>(-1), 0, static_cast<gid_t>(-1)) != 0) return *error = Errno("setresgid"), false;
  return true;
}

bool DropPrivileges(uint32_t uid, uint32_t gid, const std::vector<int>& keep, std::string* error) {
  // While this thread still has CAP_SETPCAP: cut the bounding set (what any
  // program this thread execs could ever get back). EINVAL ends the list of
  // capabilities the running kernel knows.
  for (int cap = 0; cap < 64; ++cap) {
    if (Kept(keep, cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;
      *error = Errno("PR_CAPBSET_DROP " + std::to_string(cap));
      return false;
    }
  }
  // Keep the permitted set of this thread across the uid change; every other
  // thread loses all of its capabilities in the setresuid below.
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return *error = Errno("PR_SET_KEEPCAPS"), false;
  if (setgroups(0, nullptr) != 0) return *error = Errno("setgroups"), false;
  if (setresgid(gid, gid, gid) != 0) return *error = Errno("setresgid"), false;
  if (setresuid(uid, uid, uid) != 0) return *error = Errno("setresuid"), false;
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return *error = Errno("PR_SET_KEEPCAPS"), false;
  // Permitted and effective = exactly `keep`, inheritable empty.
  if (!SetCapabilities(keep, error)) return false;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return *error = Errno("PR_CAP_AMBIENT_CLEAR_ALL"), false;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return *error = Errno("PR_SET_NO_NEW_PRIVS"), false;
  // Belt and braces: the ids this thread reports are the target's.
  uid_t r = 0, e = 0, s = 0;
  if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid) return *error = "the uid did not change", false;
  return true;
}

}  // namespace honeyport
