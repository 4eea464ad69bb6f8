// A failing disk for admitd, by LD_PRELOAD: while the file named by
// $ADMIT_FAULT_FILE exists, every write and flush of an LMDB data file
// (a path ending in /data.mdb) fails with EIO, as on a device that started
// failing writes. Everything else passes through. Device-mapper (dm-error,
// dm-flakey) needs a kernel driver that the sandboxes the tests run in do not
// have; this works wherever LD_PRELOAD does (not for a setuid binary).
//
// Only the calls LMDB makes are wrapped (nm -D liblmdb.so): write, writev,
// pwrite (and pwrite64), fsync, fdatasync, msync.
#undef _FILE_OFFSET_BITS  // define pwrite itself, not pwrite64 under its name

#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr char data_file_suffix[] = "/data.mdb";

bool failing_now() {
  const char* fault_file = std::getenv("ADMIT_FAULT_FILE");
  return fault_file != nullptr && ::access(fault_file, F_OK) == 0;
}

bool is_data_file(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[4096];
  const ssize_t size = ::readlink(link, path, sizeof path - 1);
  const std::size_t suffix = sizeof data_file_suffix - 1;
  return size >= static_cast<ssize_t>(suffix) &&
         std::memcmp(path + size - suffix, data_file_suffix, suffix) == 0;
}

bool fails(int fd) {
  if (!failing_now() || !is_data_file(fd)) return false;
  errno = EIO;
  return true;
}

template <class Function>
Function next(const char* name) {
  return reinterpret_cast<Function>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buffer, size_t size) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  return fails(fd) ? -1 : real(fd, buffer, size);
}

ssize_t writev(int fd, const struct iovec* vectors, int count) {
  static const auto real = next<ssize_t (*)(int, const struct iovec*, int)>("writev");
  return fails(fd) ? -1 : real(fd, vectors, count);
}

ssize_t pwrite(int fd, const void* buffer, size_t size, off_t offset) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  return fails(fd) ? -1 : real(fd, buffer, size, offset);
}

ssize_t pwrite64(int fd, const void* buffer, size_t size, off64_t offset) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  return fails(fd) ? -1 : real(fd, buffer, size, offset);
}

int fsync(int fd) {
  static const auto real = next<int (*)(int)>("fsync");
  return fails(fd) ? -1 : real(fd);
}

int fdatasync(int fd) {
  static const auto real = next<int (*)(int)>("fdatasync");
  return fails(fd) ? -1 : real(fd);
}

// No file descriptor to look at: every msync fails while the fault is on.
int msync(void* address, size_t size, int flags) {
  static const auto real = next<int (*)(void*, size_t, int)>("msync");
  if (failing_now()) {
    errno = EIO;
    return -1;
  }
  return real(address, size, flags);
}

}  // extern "C"
