// Recovery as admitd runs it at start: a shard's LMDB environment holding a
// checkpoint and a log written from the fuzzer's bytes, then ShardWal::open()
// and recover() into a fresh state machine.
//
// Checks: no crash or UB; a refused recovery names the shard and the file
// (and the LSN, for a log record); a recovery that succeeds loaded exactly
// the checkpoint plus every record in LSN order (the same state as restoring
// and applying them by hand) and the machine keeps its invariants.
#include <lmdb.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "storage/state_machine.h"
#include "storage/wal/command.h"
#include "storage/wal/format.h"
#include "storage/wal/wal.h"

namespace {

using namespace admit::storage;
namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t checksum_size = 8;
constexpr std::size_t map_size_bytes = std::size_t{1} << 20;
// Chunks of at least this size: a u16-sized state in at most 1024 chunks
// fits the map.
constexpr std::size_t chunk_unit_bytes = 64;

// One folder per fuzzing process, in memory when /dev/shm is there.
const fs::path& data_dir() {
  static const fs::path dir = [] {
    const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    const fs::path made = base / ("admit-wal-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(made);
    std::atexit([] { fs::remove_all(data_dir()); });
    return made;
  }();
  return dir;
}

// What the input asks to be on disk.
struct Folder {
  std::optional<std::uint32_t> meta[3];  // format_version, shard, shards; absent: correct
  std::optional<std::pair<Bytes, Bytes>> checkpoint;  // lsn value, state
  // The checkpoint's layout: format 1's two keys, or chunks of this size
  // with a head (format 2).
  std::optional<std::size_t> chunk_bytes;
  bool drop_last_chunk = false;  // a chunk missing
  bool stray_chunk = false;      // a chunk of another LSN: a checkpoint left half written
  bool right_head_checksum = false;
  std::vector<std::pair<std::uint64_t, Bytes>> log;  // lsn, record
};

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
  std::size_t u16() { return u8() | std::size_t{u8()} << 8; }
  Bytes bytes(std::size_t n) {
    n = std::min(n, size_ - at_);
    Bytes out(data_ + at_, data_ + at_ + n);
    at_ += n;
    return out;
  }
  bool done() const { return at_ >= size_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

void append_checksum(Bytes& bytes) {
  const std::uint64_t sum = XXH3_64bits(bytes.data(), bytes.size());
  for (std::size_t i = 0; i < checksum_size; ++i)
    bytes.push_back(static_cast<std::uint8_t>(sum >> (8 * i)));
}

void fix_record_checksum(Bytes& record) {
  if (record.size() < checksum_size) return;
  const std::uint64_t sum =
      XXH3_64bits(record.data() + checksum_size, record.size() - checksum_size);
  for (std::size_t i = 0; i < checksum_size; ++i)
    record[i] = static_cast<std::uint8_t>(sum >> (8 * i));
}

// Input: a flag byte (bit 0: a checkpoint; bit 1: make the checksums right;
// bit 2: meta values from the input; bit 3: the checkpoint in chunks; bit 4:
// its last chunk missing; bit 5: a stray chunk of another LSN), then 3 x 4
// meta bytes (bit 2), then the checkpoint (bit 0: 8 LSN bytes, u16 size,
// state; bit 3: then a byte, the chunk size in units of chunk_unit_bytes,
// less one), then records: u16 header (low 15 bits: size; top bit: leave an
// LSN out before it), the bytes.
Folder parse_input(Input& in) {
  Folder folder;
  const std::uint8_t flags = in.u8();
  const bool fix = (flags & 2) != 0;
  if ((flags & 4) != 0) {
    for (auto& value : folder.meta) {
      value = in.u8() | std::uint32_t{in.u8()} << 8 | std::uint32_t{in.u8()} << 16 |
              std::uint32_t{in.u8()} << 24;
    }
  }
  std::uint64_t lsn = 0;
  if ((flags & 1) != 0) {
    Bytes lsn_bytes = in.bytes(8);
    for (const std::uint8_t b : lsn_bytes) lsn = lsn << 8 | b;
    Bytes state = in.bytes(in.u16());
    if (fix) append_checksum(state);
    folder.checkpoint.emplace(std::move(lsn_bytes), std::move(state));
    if ((flags & 8) != 0) {
      folder.chunk_bytes = (std::size_t{in.u8()} + 1) * chunk_unit_bytes;
      folder.drop_last_chunk = (flags & 16) != 0;
      folder.stray_chunk = (flags & 32) != 0;
      folder.right_head_checksum = fix;
    }
  }
  while (!in.done() && folder.log.size() < 256) {
    const std::size_t header = in.u16();
    lsn += (header & 0x8000) != 0 ? 2 : 1;
    Bytes record = in.bytes(header & 0x7fff);
    if (fix) fix_record_checksum(record);
    folder.log.emplace_back(lsn, std::move(record));
  }
  return folder;
}

int put(MDB_txn* txn, MDB_dbi db, std::span<const std::uint8_t> key,
        std::span<const std::uint8_t> value) {
  MDB_val k = wal::to_val(key), v = wal::to_val(value);
  return mdb_put(txn, db, &k, &v, 0);
}

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Format 2: the head, then the state in chunks; the head's checksum is right
// only when the input asks for right checksums.
void write_chunked_checkpoint(const Folder& folder, MDB_txn* txn, MDB_dbi db) {
  const auto& [lsn_bytes, state] = *folder.checkpoint;
  std::uint64_t lsn = 0;
  for (const std::uint8_t b : lsn_bytes) lsn = lsn << 8 | b;
  const std::size_t chunk_bytes = *folder.chunk_bytes;
  const auto chunks = static_cast<std::uint32_t>((state.size() + chunk_bytes - 1) / chunk_bytes);
  const std::uint64_t sum = XXH3_64bits(state.data(), state.size());
  const wal::CheckpointHead head{.lsn = lsn,
                                 .bytes = state.size(),
                                 .chunks = chunks,
                                 .xxh3 = folder.right_head_checksum ? sum : sum ^ 1};
  put(txn, db, bytes_of(wal::checkpoint_head_key), wal::encode_checkpoint_head(head));
  const std::uint32_t written = folder.drop_last_chunk && chunks > 0 ? chunks - 1 : chunks;
  for (std::uint32_t i = 0; i < written; ++i) {
    const std::span<const std::uint8_t> chunk =
        std::span<const std::uint8_t>(state).subspan(i * chunk_bytes);
    put(txn, db, wal::checkpoint_chunk_key(lsn, i),
        chunk.first(std::min(chunk_bytes, chunk.size())));
  }
  if (folder.stray_chunk) put(txn, db, wal::checkpoint_chunk_key(lsn + 1, 0), state);
}

void write_folder(const Folder& folder, const fs::path& path) {
  fs::remove_all(path);
  fs::create_directories(path);
  MDB_env* env = nullptr;
  fuzz_require(mdb_env_create(&env) == MDB_SUCCESS, "mdb_env_create");
  mdb_env_set_maxdbs(env, wal::named_dbs_max);
  mdb_env_set_mapsize(env, map_size_bytes);
  fuzz_require(mdb_env_open(env, path.c_str(), MDB_NOSYNC, 0644) == MDB_SUCCESS, "mdb_env_open");
  MDB_txn* txn = nullptr;
  fuzz_require(mdb_txn_begin(env, nullptr, 0, &txn) == MDB_SUCCESS, "mdb_txn_begin");
  MDB_dbi log, checkpoint, meta;
  mdb_dbi_open(txn, wal::log_db_name, MDB_CREATE, &log);
  mdb_dbi_open(txn, wal::checkpoint_db_name, MDB_CREATE, &checkpoint);
  mdb_dbi_open(txn, wal::meta_db_name, MDB_CREATE, &meta);
  const std::uint32_t right[3] = {wal::wal_format_version, 0, 1};
  const std::string_view meta_keys[3] = {wal::meta_format_version_key, wal::meta_shard_key,
                                         wal::meta_shards_key};
  for (int i = 0; i < 3; ++i) {
    const std::uint32_t value = folder.meta[i].value_or(right[i]);
    const std::uint8_t bytes[4] = {
        static_cast<std::uint8_t>(value), static_cast<std::uint8_t>(value >> 8),
        static_cast<std::uint8_t>(value >> 16), static_cast<std::uint8_t>(value >> 24)};
    put(txn, meta, bytes_of(meta_keys[i]), bytes);
  }
  if (folder.checkpoint && folder.chunk_bytes) {
    write_chunked_checkpoint(folder, txn, checkpoint);
  } else if (folder.checkpoint) {
    put(txn, checkpoint, bytes_of(wal::legacy_checkpoint_lsn_key), folder.checkpoint->first);
    put(txn, checkpoint, bytes_of(wal::legacy_checkpoint_state_key), folder.checkpoint->second);
  }
  for (const auto& [lsn, record] : folder.log) put(txn, log, wal::lsn_key(lsn), record);
  fuzz_require(mdb_txn_commit(txn) == MDB_SUCCESS, "mdb_txn_commit");
  mdb_env_close(env);
}

// The state recovery must reach: the checkpoint restored, then every record
// applied in LSN order. Only called once recovery succeeded.
void check_same_as_by_hand(const Folder& folder, const StateMachine& recovered) {
  StateMachine machine(Options{});
  std::string why;
  if (folder.checkpoint) {
    fuzz_require(machine.restore(folder.checkpoint->second, &why), "the checkpoint restores");
  }
  for (const auto& [lsn, record] : folder.log) {
    wal::Record decoded;
    fuzz_require(wal::decode(record, decoded, &why), "every replayed record decodes");
    apply(machine, decoded.kind, decoded.command, decoded.now_ms);
  }
  fuzz_require(machine.dump() == recovered.dump(), "recovery loads checkpoint + log, nothing else");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const Folder folder = parse_input(in);
  write_folder(folder, wal::shard_path(data_dir(), 0));
  wal::Options options{.dir = data_dir(),
                       .mode = wal::Mode::strict,
                       .map_size_bytes = map_size_bytes,
                       .map_size_max_bytes = map_size_bytes};
  options.log = [](const std::string&) {};
  std::string why;
  const auto shard_wal = wal::ShardWal::open(options, &why);
  if (!shard_wal) {
    fuzz_require(why.find("shard 0") != std::string::npos, "a refused open names the shard");
    return 0;
  }
  StateMachine machine(Options{});
  wal::RecoveryReport report;
  if (!shard_wal->recover(
          machine, [](std::uint64_t) {}, &report, &why)) {
    const std::string file = wal::shard_data_file(data_dir(), 0).string();
    fuzz_require(why.find("shard 0") != std::string::npos, "a refused recovery names the shard");
    fuzz_require(why.find(file) != std::string::npos, "a refused recovery names the file");
    fuzz_require(
        why.find("checkpoint") != std::string::npos || why.find("LSN") != std::string::npos,
        "a refused recovery names the checkpoint or the record's LSN");
    return 0;
  }
  machine.check_invariants();
  check_same_as_by_hand(folder, machine);
  return 0;
}
