#include "storage/wal/command.h"

#include <xxhash.h>

#include <cstring>

#include "protocol/assertions.h"

namespace admit::storage::wal {
namespace {

constexpr std::size_t checksum_size = 8;

// Little-endian appends to the record being built.
class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u32(std::uint32_t v) { put(v, 4); }
  void i64(std::int64_t v) { put(static_cast<std::uint64_t>(v), 8); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  template <std::size_t capacity>
  void str(const FixedString<capacity>& s) {
    u16(s.size);
    out_.insert(out_.end(), s.bytes, s.bytes + s.size);
  }
  template <typename Enum>
  void enumeration(Enum v) {
    u8(static_cast<std::uint8_t>(v));
  }

 private:
  void put(std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t>& out_;
};

// Bounds-checked little-endian reads; the first failure sticks in `why`.
class Reader {
 public:
  Reader(std::span<const std::uint8_t> bytes, std::string* why) : bytes_(bytes), why_(why) {}

  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == bytes_.size(); }
  void fail(const std::string& reason) {
    if (ok_ && why_ != nullptr) *why_ = reason;
    ok_ = false;
  }

  std::uint64_t get(int size, const char* field) {
    if (!ok_) return 0;
    if (bytes_.size() - pos_ < static_cast<std::size_t>(size)) {
      fail(std::string("truncated at ") + field);
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < size; ++i) v |= std::uint64_t{bytes_[pos_ + i]} << (8 * i);
    pos_ += size;
    return v;
  }
  std::uint8_t u8(const char* field) { return static_cast<std::uint8_t>(get(1, field)); }
  std::uint16_t u16(const char* field) { return static_cast<std::uint16_t>(get(2, field)); }
  std::uint32_t u32(const char* field) { return static_cast<std::uint32_t>(get(4, field)); }
  std::int64_t i64(const char* field) { return static_cast<std::int64_t>(get(8, field)); }
  bool boolean(const char* field) {
    const std::uint8_t v = u8(field);
    if (v > 1) fail(std::string(field) + ": bad bool " + std::to_string(v));
    return v == 1;
  }
  // The field's capacity is the only limit: the state machine, not the
  // codec, judges the fields, so every record that was written reads back.
  template <std::size_t capacity>
  void str(FixedString<capacity>& s, const char* field) {
    const std::size_t size = u16(field);
    if (!ok_) return;
    if (size > capacity) {
      fail(std::string(field) + ": " + std::to_string(size) + " bytes, most is " +
           std::to_string(capacity));
    } else if (bytes_.size() - pos_ < size) {
      fail(std::string("truncated at ") + field);
    } else {
      s.assign({reinterpret_cast<const char*>(bytes_.data() + pos_), size});
      pos_ += size;
    }
  }
  template <typename Enum>
  Enum enumeration(Enum last, const char* field) {
    const std::uint8_t v = u8(field);
    if (v > static_cast<std::uint8_t>(last)) fail(std::string(field) + ": bad value");
    return static_cast<Enum>(v);
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::string* why_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

void encode_config(const EventConfig& c, Writer& w) {
  w.u32(c.capacity);
  w.u32(c.per_user_max);
  w.u32(c.hold_ttl_ms);
  w.boolean(c.waitlist);
  w.u32(c.waitlist_max);
  w.i64(c.opens_at_ms);
  w.i64(c.closes_at_ms);
  w.u32(c.rate_per_s);
  w.u32(c.rate_burst);
  w.enumeration(c.state);
}

void decode_config(Reader& r, EventConfig& c) {
  c.capacity = r.u32("capacity");
  c.per_user_max = r.u32("per_user_max");
  c.hold_ttl_ms = r.u32("hold_ttl_ms");
  c.waitlist = r.boolean("waitlist");
  c.waitlist_max = r.u32("waitlist_max");
  c.opens_at_ms = r.i64("opens_at_ms");
  c.closes_at_ms = r.i64("closes_at_ms");
  c.rate_per_s = r.u32("rate_per_s");
  c.rate_burst = r.u32("rate_burst");
  c.state = r.enumeration(EventState::closed, "state");
}

// EventPatch's fields in mask-bit order. Each visitor call gets the bit,
// the optional and a field name; the same list drives encode and decode.
template <typename Patch, typename Visit>
void for_each_patch_field(Patch& p, Visit&& visit) {
  visit(0, p.capacity, "capacity");
  visit(1, p.per_user_max, "per_user_max");
  visit(2, p.hold_ttl_ms, "hold_ttl_ms");
  visit(3, p.waitlist_max, "waitlist_max");
  visit(4, p.waitlist, "waitlist");
  visit(5, p.opens_at_ms, "opens_at_ms");
  visit(6, p.closes_at_ms, "closes_at_ms");
  visit(7, p.rate_per_s, "rate_per_s");
  visit(8, p.rate_burst, "rate_burst");
  visit(9, p.state, "state");
}
constexpr std::uint16_t patch_mask_all = (1u << 10) - 1;

// One value of a record, by type; encode_body() and decode_body() call these
// for every field of for_each_field().
void write_field(Writer& w, bool v) { w.boolean(v); }
void write_field(Writer& w, std::uint32_t v) { w.u32(v); }
void write_field(Writer& w, std::int64_t v) { w.i64(v); }
void write_field(Writer& w, EventState v) { w.enumeration(v); }
void write_field(Writer& w, WaitlistChoice v) { w.enumeration(v); }
void write_field(Writer& w, const EventConfig& v) { encode_config(v, w); }
template <std::size_t capacity>
void write_field(Writer& w, const FixedString<capacity>& v) {
  w.str(v);
}
void write_field(Writer& w, const EventPatch& patch) {
  std::uint16_t mask = 0;
  for_each_patch_field(patch, [&](int bit, const auto& field, const char*) {
    if (field.has_value()) mask |= static_cast<std::uint16_t>(1u << bit);
  });
  w.u16(mask);
  for_each_patch_field(patch, [&](int, const auto& field, const char*) {
    if (field.has_value()) write_field(w, *field);
  });
}

void read_field(Reader& r, bool& v, const char* name) { v = r.boolean(name); }
void read_field(Reader& r, std::uint32_t& v, const char* name) { v = r.u32(name); }
void read_field(Reader& r, std::int64_t& v, const char* name) { v = r.i64(name); }
void read_field(Reader& r, EventState& v, const char* name) {
  v = r.enumeration(EventState::closed, name);
}
void read_field(Reader& r, WaitlistChoice& v, const char* name) {
  v = r.enumeration(WaitlistChoice::never, name);
}
void read_field(Reader& r, EventConfig& v, const char*) { decode_config(r, v); }
template <std::size_t capacity>
void read_field(Reader& r, FixedString<capacity>& v, const char* name) {
  r.str(v, name);
}
void read_field(Reader& r, EventPatch& patch, const char*) {
  const std::uint16_t mask = r.u16("patch mask");
  if ((mask & ~patch_mask_all) != 0) r.fail("patch mask: unknown fields");
  for_each_patch_field(patch, [&](int bit, auto& field, const char* name) {
    if ((mask & (1u << bit)) != 0) {
      read_field(r, field.emplace(), name);
    } else {
      field.reset();
    }
  });
}

void encode_body(CommandKind kind, const Command& command, Writer& w) {
  for_each_field(kind, command, [&](const auto& field, const char*) { write_field(w, field); });
}

// Decodes the body of `kind`, written in format `version`, into a fresh
// `command`.
void decode_body(Reader& r, std::uint8_t version, CommandKind kind, Command& command) {
  command = Command{};
  if (kind == CommandKind::expire && version == 1) {
    command.steps_max = expire_steps_unbounded;  // format 1 wrote no bound
    return;
  }
  for_each_field(kind, command, [&](auto& field, const char* name) { read_field(r, field, name); });
  if (kind == CommandKind::expire && command.steps_max == 0 && r.ok()) r.fail("steps_max is 0");
}

std::uint64_t load_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

void encode(CommandKind kind, const Command& command, std::int64_t now_ms,
            std::vector<std::uint8_t>& out) {
  const std::size_t start = out.size();
  Writer w(out);
  w.i64(0);  // checksum, filled in below
  w.u8(record_format_version);
  w.u8(static_cast<std::uint8_t>(kind));
  w.u16(0);
  w.u32(0);  // body_size, filled in below
  w.i64(now_ms);
  encode_body(kind, command, w);

  const std::size_t size = out.size() - start;
  ADMIT_ASSERT(size <= record_size_max);
  const auto body_size = static_cast<std::uint32_t>(size - record_header_size);
  for (int i = 0; i < 4; ++i) out[start + 12 + i] = static_cast<std::uint8_t>(body_size >> (8 * i));
  const std::uint64_t sum = XXH3_64bits(out.data() + start + checksum_size, size - checksum_size);
  for (int i = 0; i < 8; ++i) out[start + i] = static_cast<std::uint8_t>(sum >> (8 * i));
}

bool decode(std::span<const std::uint8_t> bytes, Record& out, std::string* why) {
  auto refuse = [&](const std::string& reason) {
    if (why != nullptr) *why = reason;
    return false;
  };
  if (bytes.size() < record_header_size + 8) {
    return refuse("record of " + std::to_string(bytes.size()) + " bytes is shorter than a header");
  }
  if (bytes.size() > record_size_max) {
    return refuse("record of " + std::to_string(bytes.size()) + " bytes exceeds " +
                  std::to_string(record_size_max));
  }
  const std::uint64_t stored = load_u64(bytes.data());
  const std::uint64_t computed =
      XXH3_64bits(bytes.data() + checksum_size, bytes.size() - checksum_size);
  if (stored != computed) return refuse("checksum mismatch");

  Reader r(bytes.subspan(checksum_size), why);
  const std::uint8_t version = r.u8("version");
  if (version == 0 || version > record_format_version) {
    return refuse("unknown record version " + std::to_string(version));
  }
  const std::uint8_t kind = r.u8("kind");
  if (kind == 0 || kind > command_kind_last) {
    return refuse("unknown command kind " + std::to_string(kind));
  }
  if (r.u16("reserved") != 0) return refuse("reserved header bits set");
  if (r.u32("body_size") != bytes.size() - record_header_size) return refuse("body size mismatch");
  out.now_ms = r.i64("now_ms");
  out.kind = static_cast<CommandKind>(kind);
  decode_body(r, version, out.kind, out.command);
  if (!r.ok()) return false;
  if (!r.at_end()) return refuse("trailing bytes after the command");
  return true;
}

}  // namespace admit::storage::wal
