#include "storage/wal/format.h"

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
    if (summary.meta.format_version != wal_format_version) {
      *why = entry.path().string() + ": WAL format version " +
             std::to_string(summary.meta.format_version) + ", this build reads version " +
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
