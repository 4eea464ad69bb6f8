// Read-only access to one shard's WAL environment (MDB_RDONLY), for admit-wal,
// check_data_folder() and tests. Safe beside a live writer in another process;
// never open it in the process that holds the same shard's ShardWal.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "storage/wal/format.h"

namespace admit::storage::wal {

struct ShardSummary {
  Meta meta;
  std::optional<std::uint64_t> checkpoint_lsn;  // none: never checkpointed
  std::size_t checkpoint_bytes = 0;
  std::string checkpoint_error;         // a malformed checkpoint head: recovery refuses it
  std::uint32_t checkpoint_chunks = 0;  // its pieces; 0: format 1's single value
  // Pieces of another LSN: a checkpoint being written, or the last one being
  // deleted (or left so by a crash, deleted at the next open).
  std::uint32_t staging_chunks = 0;
  std::size_t staging_bytes = 0;
  std::uint64_t records = 0;
  std::optional<std::uint64_t> first_lsn, last_lsn;  // none: the log is empty
  std::size_t map_size_bytes = 0;
};

class ReadOnlyShard {
 public:
  // nullopt-like: nullptr with `why` when the folder is not a WAL environment.
  static std::unique_ptr<ReadOnlyShard> open(const std::filesystem::path& shard_dir,
                                             std::string* why);
  ~ReadOnlyShard();
  ReadOnlyShard(const ReadOnlyShard&) = delete;
  ReadOnlyShard& operator=(const ReadOnlyShard&) = delete;

  bool summary(ShardSummary* out, std::string* why);

  // Calls visit(lsn, record bytes) in LSN order for records with LSN >= from,
  // at most `limit` of them, until visit returns false. The bytes are valid
  // during the call only.
  using Visit = std::function<bool(std::uint64_t lsn, std::span<const std::uint8_t> record)>;
  bool for_each_record(std::uint64_t from, std::uint64_t limit, const Visit& visit,
                       std::string* why);

  // The checkpoint's state bytes (copied, checked against its head); nullopt
  // when there is none. False with `why` when it is malformed.
  bool checkpoint_state(std::optional<std::vector<std::uint8_t>>* out, std::string* why);

 private:
  explicit ReadOnlyShard(MDB_env* env) : env_(env) {}
  // A read transaction with the three databases open; aborted by the caller.
  bool begin(MDB_txn** txn, MDB_dbi dbs[3], std::string* why);
  MDB_env* env_;
};

}  // namespace admit::storage::wal
