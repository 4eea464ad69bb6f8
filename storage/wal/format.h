// The on-disk layout of the WAL, shared by the writer (wal.cc), recovery and
// the read-only inspector (inspect.cc, admit-wal).
//
// DIR/shard-<i>/ is one LMDB environment (data.mdb, lock.mdb) with three named
// databases:
//   log         key: big-endian u64 LSN (so byte order is LSN order),
//               value: one record (command.h)
//   checkpoint  "head": the current checkpoint (CheckpointHead, 28 bytes);
//               piece keys 'z' + big-endian u64 LSN + big-endian u32 index
//               (after every other key, in LSN then index order): the
//               StateMachine::snapshot() bytes in pieces small enough to
//               stay in leaf pages (wal.cc), written a chunk of pieces a
//               transaction. Pieces tagged with another LSN than the
//               head's are a checkpoint being written, or the last one
//               being deleted (or left so by a crash): never read, deleted
//               at open.
//               Format 1 (still read, until the first checkpoint rewrites
//               it): "lsn" (big-endian u64) and "state" (the whole snapshot).
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
#include <vector>

namespace admit::storage::wal {

// 2: checkpoints in chunks. A folder of format 1 opens; its meta says 2 once
// the first chunked checkpoint is current (a build of format 1 then refuses it).
inline constexpr std::uint32_t wal_format_version = 2;
inline constexpr std::uint32_t wal_format_version_oldest = 1;
inline constexpr const char* log_db_name = "log";
inline constexpr const char* checkpoint_db_name = "checkpoint";
inline constexpr const char* meta_db_name = "meta";
inline constexpr unsigned named_dbs_max = 3;

inline constexpr std::string_view checkpoint_head_key = "head";
inline constexpr std::uint8_t checkpoint_chunk_tag = 'z';                 // sorts after "state"
inline constexpr std::string_view legacy_checkpoint_lsn_key = "lsn";      // format 1
inline constexpr std::string_view legacy_checkpoint_state_key = "state";  // format 1
inline constexpr std::string_view meta_format_version_key = "format_version";
inline constexpr std::string_view meta_shard_key = "shard";
inline constexpr std::string_view meta_shards_key = "shards";

using LsnKey = std::array<std::uint8_t, 8>;
LsnKey lsn_key(std::uint64_t lsn);
// nullopt unless the value is exactly 8 bytes.
std::optional<std::uint64_t> lsn_from_bytes(const MDB_val& value);

// The current checkpoint: the state as of `lsn`, `bytes` long in `chunks`
// chunks, whose concatenation has XXH3-64 `xxh3`. Little-endian on disk.
struct CheckpointHead {
  std::uint64_t lsn = 0;
  std::uint64_t bytes = 0;
  std::uint32_t chunks = 0;  // pieces; 0 with `legacy`: format 1's one "state" value
  std::uint64_t xxh3 = 0;
  bool legacy = false;  // read from format 1's keys; never written
};
using CheckpointHeadBytes = std::array<std::uint8_t, 28>;
CheckpointHeadBytes encode_checkpoint_head(const CheckpointHead& head);
std::optional<CheckpointHead> decode_checkpoint_head(const MDB_val& value);

using ChunkKey = std::array<std::uint8_t, 13>;
ChunkKey checkpoint_chunk_key(std::uint64_t lsn, std::uint32_t index);
struct ChunkId {
  std::uint64_t lsn = 0;
  std::uint32_t index = 0;
};
// nullopt unless the key is a chunk key.
std::optional<ChunkId> checkpoint_chunk_of_key(const MDB_val& key);

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

// The current checkpoint's head (either format) in `*head`, nullopt when
// there is none. With `state`, also its bytes, checked against the head
// (every chunk present, size, checksum). False with `why` (naming the
// LSN) when the head or the state is malformed.
bool read_checkpoint(MDB_txn* txn, MDB_dbi checkpoint_db, std::optional<CheckpointHead>* head,
                     std::vector<std::uint8_t>* state, std::string* why);

// Refuses a data folder written for another shard count or format, with a
// message naming both counts. Opens each existing DIR/shard-* read-only, so
// call it once at start, before any ShardWal of this process is open (LMDB
// forbids opening one environment twice in a process). A missing or empty
// DIR passes.
bool check_data_folder(const std::filesystem::path& dir, std::uint32_t shards, std::string* why);

}  // namespace admit::storage::wal
