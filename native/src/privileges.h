// Changing the process's user and capability sets, for the live sensor's
// privilege drop (src/sensor/privilege-drop.ts). Node-free.
//
// Linux keeps credentials per THREAD. glibc's setgroups/setres[ug]id run the
// system call on every thread of the process (its SIGSETXID broadcast), so
// the user and groups change everywhere at once. prctl() and capset() do
// not: they act on the calling thread only. Hence the split of the contract:
//  - every thread ends with the target uid and gid (real, effective, saved,
//    filesystem), no supplementary groups, and empty permitted/effective/
//    ambient sets (a thread without KEEPCAPS loses them when its uids all
//    leave 0);
//  - the calling thread (Node's main thread: the one that binds ports,
//    re-attaches filters and forks any child) also keeps exactly `keep` in
//    its permitted and effective sets, has its bounding set cut to `keep`,
//    an empty inheritable and ambient set, and no_new_privs.
// Threads started afterwards are cloned from a thread and copy its sets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace honeyport {

struct UserEntry {
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// getpwnam_r (NSS: files, LDAP, systemd...). Returns false with `error`
// empty when no such user exists, with `error` set when the lookup failed.
bool LookupUser(const std::string& name, UserEntry* out, std::string* error);

// Effective uid and gid of every thread become uid/gid, supplementary groups
// are dropped for good; real and saved ids stay 0 so that ResumeRoot() can
// return. Files created meanwhile belong to the user and are opened with its
// rights. Effective capabilities are cleared on every thread by the kernel.
bool AssumeUser(uint32_t uid, uint32_t gid, std::string* error);
// Effective uid and gid back to 0 on every thread (the kernel refills each
// thread's effective set from its permitted one).
bool ResumeRoot(std::string* error);

// The drop itself (see the header comment). Must run as uid 0 with full
// capabilities; on failure the process is in an unknown mix and must exit.
bool DropPrivileges(uint32_t uid, uint32_t gid, const std::vector<int>& keep, std::string* error);

}  // namespace honeyport
