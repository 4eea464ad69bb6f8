#include "storage/wal/inspect.h"

namespace admit::storage::wal {

std::unique_ptr<ReadOnlyShard> ReadOnlyShard::open(const std::filesystem::path& shard_dir,
                                                   std::string* why) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc == MDB_SUCCESS) rc = mdb_env_set_maxdbs(env, named_dbs_max);
  // Map size 0: LMDB uses the size recorded in the file by the writer.
  if (rc == MDB_SUCCESS) rc = mdb_env_open(env, shard_dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0);
  if (rc != MDB_SUCCESS) {
    *why = shard_dir.string() + ": " + lmdb_error("mdb_env_open", rc);
    if (env != nullptr) mdb_env_close(env);
    return nullptr;
  }
  return std::unique_ptr<ReadOnlyShard>(new ReadOnlyShard(env));
}

ReadOnlyShard::~ReadOnlyShard() { mdb_env_close(env_); }

bool ReadOnlyShard::begin(MDB_txn** txn, MDB_dbi dbs[3], std::string* why) {
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, txn);
  if (rc == MDB_MAP_RESIZED) {  // a live writer grew the map since we opened
    rc = mdb_env_set_mapsize(env_, 0);
    if (rc == MDB_SUCCESS) rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, txn);
  }
  if (rc != MDB_SUCCESS) {
    *why = lmdb_error("mdb_txn_begin", rc);
    return false;
  }
  const char* names[3] = {log_db_name, checkpoint_db_name, meta_db_name};
  for (int i = 0; i < 3; ++i) {
    rc = mdb_dbi_open(*txn, names[i], 0, &dbs[i]);
    if (rc != MDB_SUCCESS) {
      *why = std::string("database '") + names[i] + "': " + mdb_strerror(rc);
      mdb_txn_abort(*txn);
      return false;
    }
  }
  return true;
}

namespace {

// The chunks tagged with another LSN than the current checkpoint's.
void count_staging(MDB_txn* txn, MDB_dbi checkpoint_db, std::uint64_t current_lsn,
                   ShardSummary* out) {
  MDB_cursor* cursor;
  if (mdb_cursor_open(txn, checkpoint_db, &cursor) != MDB_SUCCESS) return;
  const std::uint8_t first = checkpoint_chunk_tag;
  MDB_val k{1, const_cast<std::uint8_t*>(&first)}, v;
  for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    const auto chunk = checkpoint_chunk_of_key(k);
    if (!chunk) break;
    if (chunk->lsn == current_lsn) continue;
    ++out->staging_chunks;
    out->staging_bytes += v.mv_size;
  }
  mdb_cursor_close(cursor);
}

}  // namespace

bool ReadOnlyShard::summary(ShardSummary* out, std::string* why) {
  MDB_txn* txn;
  MDB_dbi dbs[3];
  if (!begin(&txn, dbs, why)) return false;
  const auto meta = read_meta(txn, dbs[2], why);
  bool ok = meta.has_value();
  if (ok) out->meta = *meta;

  std::optional<CheckpointHead> head;
  if (ok && !read_checkpoint(txn, dbs[1], &head, nullptr, &out->checkpoint_error)) head.reset();
  if (ok && head) {
    out->checkpoint_lsn = head->lsn;
    out->checkpoint_bytes = head->bytes;
    out->checkpoint_chunks = head->chunks;
  }
  MDB_val k, v;
  if (ok) count_staging(txn, dbs[1], head ? head->lsn : 0, out);

  MDB_stat stat;
  if (ok && mdb_stat(txn, dbs[0], &stat) == MDB_SUCCESS) out->records = stat.ms_entries;
  MDB_cursor* cursor;
  if (ok && mdb_cursor_open(txn, dbs[0], &cursor) == MDB_SUCCESS) {
    if (mdb_cursor_get(cursor, &k, &v, MDB_FIRST) == MDB_SUCCESS)
      out->first_lsn = lsn_from_bytes(k);
    if (mdb_cursor_get(cursor, &k, &v, MDB_LAST) == MDB_SUCCESS) out->last_lsn = lsn_from_bytes(k);
    mdb_cursor_close(cursor);
  }
  MDB_envinfo info;
  if (mdb_env_info(env_, &info) == MDB_SUCCESS) out->map_size_bytes = info.me_mapsize;
  mdb_txn_abort(txn);
  return ok;
}

bool ReadOnlyShard::for_each_record(std::uint64_t from, std::uint64_t limit, const Visit& visit,
                                    std::string* why) {
  MDB_txn* txn;
  MDB_dbi dbs[3];
  if (!begin(&txn, dbs, why)) return false;
  MDB_cursor* cursor;
  int rc = mdb_cursor_open(txn, dbs[0], &cursor);
  if (rc != MDB_SUCCESS) {
    *why = lmdb_error("mdb_cursor_open", rc);
    mdb_txn_abort(txn);
    return false;
  }
  const LsnKey start = lsn_key(from);
  MDB_val k = to_val(start), v;
  bool ok = true;
  std::uint64_t seen = 0;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS && seen < limit;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT), ++seen) {
    const auto lsn = lsn_from_bytes(k);
    if (!lsn) {
      *why = "a log key of " + std::to_string(k.mv_size) + " bytes is not an LSN";
      ok = false;
      break;
    }
    if (!visit(*lsn, to_span(v))) break;
  }
  if (ok && rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
    *why = lmdb_error("mdb_cursor_get", rc);
    ok = false;
  }
  mdb_cursor_close(cursor);
  mdb_txn_abort(txn);
  return ok;
}

bool ReadOnlyShard::checkpoint_state(std::optional<std::vector<std::uint8_t>>* out,
                                     std::string* why) {
  MDB_txn* txn;
  MDB_dbi dbs[3];
  if (!begin(&txn, dbs, why)) return false;
  std::optional<CheckpointHead> head;
  std::vector<std::uint8_t> state;
  const bool ok = read_checkpoint(txn, dbs[1], &head, &state, why);
  mdb_txn_abort(txn);
  out->reset();
  if (ok && head) *out = std::move(state);
  return ok;
}

}  // namespace admit::storage::wal
