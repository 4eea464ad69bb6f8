// The on-disk layout of the WAL, shared by the writer (wal.cc), recovery and
// the read-only inspector (inspect.cc, admit-wal).
//
// DIR/shard-<i>/ is one LMDB environment (data.mdb, lock.mdb) with three named
// databases:
//   log         key: big-endian u64 LSN (so byte order is LSN order),
//               value: one record (command.h)
//   checkpoint  "lsn": big-endian u64, the last LSN the state covers;
//               "state": StateMachine::snapshot() bytes
//   meta        "format_version", "shard", "shards": little-endian u32
#pragma once

#include <lmdb.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace admit::storage::wal {

inline constexpr std::uint32_t wal_format_version = 1;
inline constexpr const char* log_db_name = "log";
inline constexpr const char* checkpoint_db_name = "checkpoint";
inline constexpr const char* meta_db_name = "meta";
inline constexpr unsigned named_dbs_max = 3;

inline constexpr std::string_view checkpoint_lsn_key = "lsn";
inline constexpr std::string_view checkpoint_state_key = "state";
inline constexpr std::string_view meta_format_version_key = "format_version";
inline constexpr std::string_view meta_shard_key = "shard";
inline constexpr std::string_view meta_shards_key = "shards";

using LsnKey = std::array<std::uint8_t, 8>;
LsnKey lsn_key(std::uint64_t lsn);
// nullopt unless the value is exactly 8 bytes.
std::optional<std::uint64_t> lsn_from_bytes(const MDB_val& value);

inline MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline MDB_val to_val(std::span<const std::uint8_t> s) {
  return MDB_val{s.size(), const_cast<std::uint8_t*>(s.data())};
}
inline std::span<const std::uint8_t> to_span(const MDB_val& v) {
  return {static_cast<const std::uint8_t*>(v.mv_data), v.mv_size};
}

std::filesystem::path shard_path(const std::filesystem::path& dir, std::uint32_t shard);
// The file a record lives in, for error messages: DIR/shard-<i>/data.mdb.
std::filesystem::path shard_data_file(const std::filesystem::path& dir, std::uint32_t shard);

// "mdb_put: MDB_MAP_FULL: Environment mapsize limit reached" and the like.
std::string lmdb_error(const char* call, int rc);

struct Meta {
  std::uint32_t format_version = 0;
  std::uint32_t shard = 0;
  std::uint32_t shards = 0;
};

// Reads the meta database; nullopt with `why` if it is missing or malformed.
std::optional<Meta> read_meta(MDB_txn* txn, MDB_dbi meta_db, std::string* why);

// Refuses a data folder written for another shard count or format, with a
// message naming both counts. Opens each existing DIR/shard-* read-only, so
// call it once at start, before any ShardWal of this process is open (LMDB
// forbids opening one environment twice in a process). A missing or empty
// DIR passes.
bool check_data_folder(const std::filesystem::path& dir, std::uint32_t shards, std::string* why);

}  // namespace admit::storage::wal
