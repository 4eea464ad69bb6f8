#include "storage/wal/format.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <system_error>

#include "storage/wal/inspect.h"

namespace admit::storage::wal {

LsnKey lsn_key(std::uint64_t lsn) {
  LsnKey key;
  for (int i = 0; i < 8; ++i) key[i] = static_cast<std::uint8_t>(lsn >> (8 * (7 - i)));
  return key;
}

std::optional<std::uint64_t> lsn_from_bytes(const MDB_val& value) {
  if (value.mv_size != 8) return std::nullopt;
  const auto* p = static_cast<const std::uint8_t*>(value.mv_data);
  std::uint64_t lsn = 0;
  for (int i = 0; i < 8; ++i) lsn = (lsn << 8) | p[i];
  return lsn;
}

namespace {

void put_le(std::uint8_t* out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<std::uint8_t>(value >> (8 * i));
}

std::uint64_t get_le(const std::uint8_t* in, int bytes) {
  std::uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | in[i];
  return value;
}

std::uint64_t get_be(const std::uint8_t* in, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | in[i];
  return value;
}

}  // namespace

CheckpointHeadBytes encode_checkpoint_head(const CheckpointHead& head) {
  CheckpointHeadBytes out;
  put_le(out.data(), head.lsn, 8);
  put_le(out.data() + 8, head.bytes, 8);
  put_le(out.data() + 16, head.chunks, 4);
  put_le(out.data() + 20, head.xxh3, 8);
  return out;
}

std::optional<CheckpointHead> decode_checkpoint_head(const MDB_val& value) {
  if (value.mv_size != CheckpointHeadBytes{}.size()) return std::nullopt;
  const auto* p = static_cast<const std::uint8_t*>(value.mv_data);
  return CheckpointHead{.lsn = get_le(p, 8),
                        .bytes = get_le(p + 8, 8),
                        .chunks = static_cast<std::uint32_t>(get_le(p + 16, 4)),
                        .xxh3 = get_le(p + 20, 8)};
}

ChunkKey checkpoint_chunk_key(std::uint64_t lsn, std::uint32_t index) {
  ChunkKey key;
  key[0] = checkpoint_chunk_tag;
  const LsnKey lsn_bytes = lsn_key(lsn);
  std::copy(lsn_bytes.begin(), lsn_bytes.end(), key.begin() + 1);
  for (int i = 0; i < 4; ++i) key[9 + i] = static_cast<std::uint8_t>(index >> (8 * (3 - i)));
  return key;
}

std::optional<ChunkId> checkpoint_chunk_of_key(const MDB_val& key) {
  const auto* p = static_cast<const std::uint8_t*>(key.mv_data);
  if (key.mv_size != ChunkKey{}.size() || p[0] != checkpoint_chunk_tag) return std::nullopt;
  return ChunkId{.lsn = get_be(p + 1, 8), .index = static_cast<std::uint32_t>(get_be(p + 9, 4))};
}

namespace {

bool read_legacy_checkpoint(MDB_txn* txn, MDB_dbi db, std::optional<CheckpointHead>* head,
                            std::vector<std::uint8_t>* state, std::string* why) {
  MDB_val k = to_val(legacy_checkpoint_lsn_key), v;
  if (mdb_get(txn, db, &k, &v) != MDB_SUCCESS) return true;  // no checkpoint
  const auto lsn = lsn_from_bytes(v);
  MDB_val state_key = to_val(legacy_checkpoint_state_key), bytes;
  if (!lsn) {
    *why = "malformed checkpoint LSN (format 1)";
    return false;
  }
  if (mdb_get(txn, db, &state_key, &bytes) != MDB_SUCCESS) {
    *why = "the checkpoint state at LSN " + std::to_string(*lsn) + " is missing (format 1)";
    return false;
  }
  *head = CheckpointHead{.lsn = *lsn, .bytes = bytes.mv_size, .legacy = true};
  if (state != nullptr) state->assign(to_span(bytes).begin(), to_span(bytes).end());
  return true;
}

}  // namespace

bool read_checkpoint(MDB_txn* txn, MDB_dbi checkpoint_db, std::optional<CheckpointHead>* head,
                     std::vector<std::uint8_t>* state, std::string* why) {
  head->reset();
  MDB_val k = to_val(checkpoint_head_key), v;
  if (mdb_get(txn, checkpoint_db, &k, &v) != MDB_SUCCESS) {
    return read_legacy_checkpoint(txn, checkpoint_db, head, state, why);
  }
  const auto decoded = decode_checkpoint_head(v);
  if (!decoded) {
    *why = "malformed checkpoint head (" + std::to_string(v.mv_size) + " bytes)";
    return false;
  }
  *head = decoded;
  if (state == nullptr) return true;
  const std::string at = "the checkpoint at LSN " + std::to_string(decoded->lsn);
  state->clear();
  MDB_cursor* cursor;
  if (const int rc = mdb_cursor_open(txn, checkpoint_db, &cursor); rc != MDB_SUCCESS) {
    *why = at + ": " + lmdb_error("mdb_cursor_open", rc);
    return false;
  }
  const ChunkKey first = checkpoint_chunk_key(decoded->lsn, 0);
  MDB_val piece_key = to_val(std::span<const std::uint8_t>(first)), piece;
  int rc = mdb_cursor_get(cursor, &piece_key, &piece, MDB_SET_KEY);
  for (std::uint32_t i = 0; i < decoded->chunks; ++i) {
    const auto id = rc == MDB_SUCCESS ? checkpoint_chunk_of_key(piece_key) : std::nullopt;
    if (!id || id->lsn != decoded->lsn || id->index != i) {
      *why = at + ": piece " + std::to_string(i) + " of " + std::to_string(decoded->chunks) +
             " is missing";
      mdb_cursor_close(cursor);
      return false;
    }
    if (state->size() + piece.mv_size > decoded->bytes) break;  // said below
    if (state->empty()) state->reserve(decoded->bytes);
    state->insert(state->end(), to_span(piece).begin(), to_span(piece).end());
    rc = mdb_cursor_get(cursor, &piece_key, &piece, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  if (state->size() != decoded->bytes) {
    *why = at + ": its pieces do not hold the " + std::to_string(decoded->bytes) +
           " bytes its head says";
    return false;
  }
  if (XXH3_64bits(state->data(), state->size()) != decoded->xxh3) {
    *why = at + ": checksum mismatch";
    return false;
  }
  return true;
}

std::filesystem::path shard_path(const std::filesystem::path& dir, std::uint32_t shard) {
  return dir / ("shard-" + std::to_string(shard));
}

std::filesystem::path shard_data_file(const std::filesystem::path& dir, std::uint32_t shard) {
  return shard_path(dir, shard) / "data.mdb";
}

std::string lmdb_error(const char* call, int rc) {
  return std::string(call) + ": " + mdb_strerror(rc);
}

namespace {

std::optional<std::uint32_t> read_u32(MDB_txn* txn, MDB_dbi db, std::string_view key) {
  MDB_val k = to_val(key), v;
  if (mdb_get(txn, db, &k, &v) != MDB_SUCCESS || v.mv_size != 4) return std::nullopt;
  const auto* p = static_cast<const std::uint8_t*>(v.mv_data);
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

// The shard index in a "shard-<i>" folder name, if it is one.
std::optional<std::uint32_t> shard_of_folder(const std::string& name) {
  constexpr std::string_view prefix = "shard-";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  std::uint64_t shard = 0;
  for (std::size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || shard > 1'000'000) return std::nullopt;
    shard = shard * 10 + static_cast<std::uint64_t>(name[i] - '0');
  }
  return static_cast<std::uint32_t>(shard);
}

}  // namespace

std::optional<Meta> read_meta(MDB_txn* txn, MDB_dbi meta_db, std::string* why) {
  const auto version = read_u32(txn, meta_db, meta_format_version_key);
  const auto shard = read_u32(txn, meta_db, meta_shard_key);
  const auto shards = read_u32(txn, meta_db, meta_shards_key);
  if (!version || !shard || !shards) {
    if (why != nullptr) *why = "the meta database lacks format_version, shard or shards";
    return std::nullopt;
  }
  return Meta{.format_version = *version, .shard = *shard, .shards = *shards};
}

bool check_data_folder(const std::filesystem::path& dir, std::uint32_t shards, std::string* why) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return true;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto shard = shard_of_folder(entry.path().filename().string());
    if (!shard || !std::filesystem::exists(entry.path() / "data.mdb")) continue;
    std::string reason;
    auto reader = ReadOnlyShard::open(entry.path(), &reason);
    ShardSummary summary;
    if (reader == nullptr || !reader->summary(&summary, &reason)) {
      *why = entry.path().string() + ": " + reason;
      return false;
    }
    if (summary.meta.format_version < wal_format_version_oldest ||
        summary.meta.format_version > wal_format_version) {
      *why = entry.path().string() + ": WAL format version " +
             std::to_string(summary.meta.format_version) + ", this build reads versions " +
             std::to_string(wal_format_version_oldest) + " to " +
             std::to_string(wal_format_version);
      return false;
    }
    if (summary.meta.shards != shards) {
      *why = "data folder " + dir.string() + " was written with --shards " +
             std::to_string(summary.meta.shards) + " but this start asks for --shards " +
             std::to_string(shards) + "; the shard of an event depends on the count, so start " +
             "with --shards " + std::to_string(summary.meta.shards) + " or use a new folder";
      return false;
    }
  }
  if (ec) {
    *why = dir.string() + ": " + ec.message();
    return false;
  }
  return true;
}

}  // namespace admit::storage::wal
