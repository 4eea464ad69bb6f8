// admit-wal: inspects an admitd data folder's write-ahead logs, read-only
// (MDB_RDONLY), so it can run beside a live server.
#include <fmt/core.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "storage/wal/command.h"
#include "storage/wal/format.h"
#include "storage/wal/inspect.h"

namespace {

using admit::storage::Command;
using admit::storage::CommandKind;
using Json = nlohmann::ordered_json;
namespace wal = admit::storage::wal;

constexpr const char* description = R"(Inspects the write-ahead logs of an admitd data folder.

Each shard keeps one LMDB environment in DIR/shard-<i>/ with a log of
records (one per state change, keyed by LSN), the latest checkpoint (the
whole state as of one LSN) and meta (format version, shard count).
Recovery = load the checkpoint, then replay the records after its LSN.
admit-wal opens everything read-only: safe beside a running admitd.)";

constexpr const char* examples = R"(
Examples:
  admit-wal /var/lib/admit                      shards, checkpoints, log ranges
  admit-wal /var/lib/admit dump --shard 1 --limit 20
  admit-wal /var/lib/admit dump --shard 0 --from 1234 --json | jq .command
A record that fails its checksum or does not decode is printed as CORRUPT
with the reason; the exit status is then 1.)";

std::string utc_time(std::int64_t ms) {
  const time_t seconds = static_cast<time_t>(ms / 1000);
  tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  return fmt::format("{}.{:03}Z", text, ((ms % 1000) + 1000) % 1000);
}

template <typename T>
void put_optional(Json& out, const char* name, const std::optional<T>& value) {
  if (!value) return;
  if constexpr (std::is_same_v<T, admit::EventState>) {
    out[name] = std::string(admit::event_state_name(*value));
  } else {
    out[name] = *value;
  }
}

const char* waitlist_choice_name(admit::WaitlistChoice choice) {
  switch (choice) {
    case admit::WaitlistChoice::join:
      return "join";
    case admit::WaitlistChoice::never:
      return "never";
    default:
      return "default";
  }
}

void put_config(Json& out, const admit::storage::EventConfig& config) {
  out["capacity"] = config.capacity;
  out["per_user_max"] = config.per_user_max;
  out["hold_ttl_ms"] = config.hold_ttl_ms;
  out["waitlist"] = config.waitlist;
  out["waitlist_max"] = config.waitlist_max;
  out["opens_at_ms"] = config.opens_at_ms;
  out["closes_at_ms"] = config.closes_at_ms;
  out["rate_per_s"] = config.rate_per_s;
  out["rate_burst"] = config.rate_burst;
  out["state"] = std::string(admit::event_state_name(config.state));
}

void put_patch(Json& out, const admit::storage::EventPatch& patch) {
  put_optional(out, "capacity", patch.capacity);
  put_optional(out, "per_user_max", patch.per_user_max);
  put_optional(out, "hold_ttl_ms", patch.hold_ttl_ms);
  put_optional(out, "waitlist", patch.waitlist);
  put_optional(out, "waitlist_max", patch.waitlist_max);
  put_optional(out, "opens_at_ms", patch.opens_at_ms);
  put_optional(out, "closes_at_ms", patch.closes_at_ms);
  put_optional(out, "rate_per_s", patch.rate_per_s);
  put_optional(out, "rate_burst", patch.rate_burst);
  put_optional(out, "state", patch.state);
}

// The fields the record carries (wal::for_each_field, the codec's own list);
// an event's config and patch fields appear beside its id.
Json command_fields(CommandKind kind, const Command& command) {
  Json out = Json::object();
  wal::for_each_field(kind, command, [&](const auto& field, const char* name) {
    using Field = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<Field, admit::storage::EventConfig>) {
      put_config(out, field);
    } else if constexpr (std::is_same_v<Field, admit::storage::EventPatch>) {
      put_patch(out, field);
    } else if constexpr (std::is_same_v<Field, admit::WaitlistChoice>) {
      out[name] = waitlist_choice_name(field);
    } else if constexpr (std::is_arithmetic_v<Field>) {
      out[name] = field;
    } else {
      out[name] = field.view();  // a FixedString
    }
  });
  return out;
}

// Strings dump() as JSON strings (quoted, escaped); numbers and bools plain.
std::string text_fields(const Json& fields) {
  std::string text;
  for (const auto& [name, value] : fields.items()) {
    text += fmt::format(" {}={}", name, value.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  return text;
}

std::vector<std::uint32_t> shards_in(const std::filesystem::path& dir) {
  std::vector<std::uint32_t> shards;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("shard-", 0) != 0 || !std::filesystem::exists(entry.path() / "data.mdb")) {
      continue;
    }
    try {
      shards.push_back(static_cast<std::uint32_t>(std::stoul(name.substr(6))));
    } catch (const std::exception&) {
      continue;  // not one of ours
    }
  }
  std::sort(shards.begin(), shards.end());
  return shards;
}

int print_summary(const std::filesystem::path& dir, const std::vector<std::uint32_t>& shards) {
  int status = 0;
  for (const std::uint32_t shard : shards) {
    std::string why;
    wal::ShardSummary s;
    auto reader = wal::ReadOnlyShard::open(wal::shard_path(dir, shard), &why);
    if (reader == nullptr || !reader->summary(&s, &why)) {
      fmt::print("shard {}: unreadable: {}\n", shard, why);
      status = 1;
      continue;
    }
    fmt::print("shard {}  ({})\n", shard, wal::shard_path(dir, shard).string());
    fmt::print("  meta        format {}, shard {} of {}\n", s.meta.format_version, s.meta.shard,
               s.meta.shards);
    if (!s.checkpoint_error.empty()) {
      fmt::print("  checkpoint  CORRUPT: {}\n", s.checkpoint_error);
      status = 1;
    } else if (s.checkpoint_lsn && s.checkpoint_chunks == 0) {
      fmt::print("  checkpoint  LSN {}, {} bytes (format 1)\n", *s.checkpoint_lsn,
                 s.checkpoint_bytes);
    } else if (s.checkpoint_lsn) {
      fmt::print("  checkpoint  LSN {}, {} bytes in {} pieces\n", *s.checkpoint_lsn,
                 s.checkpoint_bytes, s.checkpoint_chunks);
    } else {
      fmt::print("  checkpoint  none\n");
    }
    if (s.staging_chunks > 0) {
      fmt::print("  staging     {} pieces, {} bytes (a checkpoint being written or deleted)\n",
                 s.staging_chunks, s.staging_bytes);
    }
    if (s.first_lsn && s.last_lsn) {
      fmt::print("  log         LSN {}..{}, {} records\n", *s.first_lsn, *s.last_lsn, s.records);
    } else {
      fmt::print("  log         empty\n");
    }
    fmt::print("  map size    {} bytes\n", s.map_size_bytes);
  }
  return status;
}

struct DumpOptions {
  std::optional<std::uint32_t> shard;
  std::uint64_t from = 0;
  std::uint64_t limit = UINT64_MAX;
  bool json = false;
};

int dump_shard(const std::filesystem::path& dir, std::uint32_t shard, const DumpOptions& o) {
  std::string why;
  auto reader = wal::ReadOnlyShard::open(wal::shard_path(dir, shard), &why);
  if (reader == nullptr) {
    fmt::print(stderr, "shard {}: {}\n", shard, why);
    return 1;
  }
  int status = 0;
  wal::Record record;
  const bool ok = reader->for_each_record(
      o.from, o.limit,
      [&](std::uint64_t lsn, std::span<const std::uint8_t> bytes) {
        std::string reason;
        Json line = {{"shard", shard}, {"lsn", lsn}};
        if (!wal::decode(bytes, record, &reason)) {
          status = 1;
          line["corrupt"] = reason;
          line["bytes"] = bytes.size();
        } else {
          line["now_ms"] = record.now_ms;
          line["time"] = utc_time(record.now_ms);
          line["command"] = admit::storage::command_name(record.kind);
          line["fields"] = command_fields(record.kind, record.command);
        }
        if (o.json) {
          fmt::print("{}\n", line.dump(-1, ' ', false, Json::error_handler_t::replace));
        } else if (line.contains("corrupt")) {
          fmt::print("shard {} lsn {} CORRUPT ({} bytes): {}\n", shard, lsn, bytes.size(), reason);
        } else {
          fmt::print("shard {} lsn {} {} {}{}\n", shard, lsn, utc_time(record.now_ms),
                     admit::storage::command_name(record.kind), text_fields(line["fields"]));
        }
        return true;
      },
      &why);
  if (!ok) {
    fmt::print(stderr, "shard {}: {}\n", shard, why);
    return 1;
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(description, "admit-wal");
  app.footer(examples);
  std::string dir;
  app.add_option("DIR", dir, "the admitd data folder (holds shard-0/, shard-1/, ...)")
      ->required()
      ->check(CLI::ExistingDirectory);
  DumpOptions dump;
  CLI::App* dump_cmd = app.add_subcommand("dump", "print log records, oldest first");
  dump_cmd->add_option("--shard", dump.shard, "only this shard (default: every shard)");
  dump_cmd->add_option("--from", dump.from, "start at this LSN (default: the first record)");
  dump_cmd->add_option("--limit", dump.limit, "print at most N records per shard");
  dump_cmd->add_flag("--json", dump.json,
                     "one JSON object a line: shard, lsn, now_ms, time, command, fields");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::uint32_t> shards = shards_in(dir);
  if (shards.empty()) {
    fmt::print(stderr, "{}: no shard-<i>/ folders with a WAL in it\n", dir);
    return 1;
  }
  if (!dump_cmd->parsed()) return print_summary(dir, shards);
  if (dump.shard) {
    if (std::find(shards.begin(), shards.end(), *dump.shard) == shards.end()) {
      fmt::print(stderr, "{}: no shard-{}/ here\n", dir, *dump.shard);
      return 1;
    }
    shards = {*dump.shard};
  }
  int status = 0;
  for (const std::uint32_t shard : shards) status |= dump_shard(dir, shard, dump);
  return status;
}
