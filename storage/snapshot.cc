// Checkpoints: snapshot() and restore(). Little-endian fields, then an xxh3
// of everything before it. Derived state (user slots, per-event booking
// lists, the expiry heap, counters) is rebuilt, not stored.
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "storage/internal.h"
#include "storage/snapshot_io.h"
#include "storage/validate.h"

namespace admit::storage {

using detail::Booking;
using detail::Event;
using detail::RememberedAnswer;
using detail::SnapshotReader;
using detail::SnapshotWriter;

namespace {

constexpr std::string_view snapshot_magic = "ADMTSNAP";
constexpr std::uint32_t snapshot_format_version = 1;
constexpr std::size_t checksum_size = 8;

void write_config(SnapshotWriter& out, const EventConfig& c) {
  out.u32(c.capacity).u32(c.per_user_max).u32(c.hold_ttl_ms).u8(c.waitlist).u32(c.waitlist_max);
  out.i64(c.opens_at_ms).i64(c.closes_at_ms).u32(c.rate_per_s).u32(c.rate_burst);
  out.u8(static_cast<std::uint8_t>(c.state));
}

void write_event(SnapshotWriter& out, const Event& event) {
  out.str(event.id);
  write_config(out, event.config);
  out.u64(event.version).u32(event.held).u32(event.confirmed).u32(event.sold_at_lowering);
  out.u64(event.next_ticket).u64(event.waitlist.size());
  for (const detail::WaitEntry& entry : event.waitlist) {
    out.u32(entry.user).u32(entry.seats).u32(entry.seats_limit).u64(entry.ticket);
  }
  std::vector<std::pair<detail::UserId, detail::RateBucket>> buckets(event.buckets.begin(),
                                                                     event.buckets.end());
  std::sort(buckets.begin(), buckets.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  out.u64(buckets.size());
  for (const auto& [user, bucket] : buckets) {
    out.u32(user).i64(bucket.milli_tokens).i64(bucket.refilled_at_ms);
  }
}

void write_answer(SnapshotWriter& out, const RememberedAnswer& a) {
  out.i64(a.remembered_at_ms).i64(a.time_ms).u64(a.ref).u32(a.event).u32(a.user);
  out.u32(a.request_seats).u32(a.seats).u32(a.position).u32(a.length);
  out.u8(static_cast<std::uint8_t>(a.kind)).u8(static_cast<std::uint8_t>(a.outcome));
  out.u8(static_cast<std::uint8_t>(a.reason)).u8(static_cast<std::uint8_t>(a.booking_state));
}

}  // namespace

std::vector<std::uint8_t> StateMachine::snapshot() const {
  const Impl& impl = *impl_;
  SnapshotWriter out;
  out.raw(snapshot_magic).u32(snapshot_format_version).u32(impl.options.shard);
  out.u64(impl.change_count).u64(impl.users.size());
  for (detail::UserId user = 0; user < impl.users.size(); ++user) out.str(impl.users.name(user));
  out.u64(impl.events.size());
  for (const auto& event : impl.events) write_event(out, *event);
  out.u64(impl.bookings.size());
  for (std::size_t i = 0; i < impl.bookings.size(); ++i) {
    const Booking& b = impl.bookings[i];
    out.u32(b.event).u32(b.user).u32(b.seats).u32(b.seats_limit);
    out.u8(static_cast<std::uint8_t>(b.state)).i64(b.created_at_ms).i64(b.expires_at_ms);
  }
  out.u64(impl.request_ids.size());
  impl.request_ids.for_each([&out](std::string_view id, const RememberedAnswer& answer) {
    out.str(id);
    write_answer(out, answer);
  });
  std::vector<std::uint8_t> bytes = out.take();
  const std::uint64_t checksum = XXH3_64bits(bytes.data(), bytes.size());
  for (std::size_t i = 0; i < checksum_size; ++i) {
    bytes.push_back(static_cast<std::uint8_t>(checksum >> (8 * i)));
  }
  return bytes;
}

bool StateMachine::restore(std::span<const std::uint8_t> bytes, std::string* why) {
  impl_->clear();
  auto refuse = [&](std::string_view reason) {
    impl_->clear();
    if (why != nullptr) *why = std::string(reason);
    return false;
  };
  if (bytes.size() < snapshot_magic.size() + checksum_size) return refuse("snapshot: too short");
  const auto body = bytes.first(bytes.size() - checksum_size);
  std::uint64_t stored = 0;
  for (std::size_t i = 0; i < checksum_size; ++i) {
    stored |= std::uint64_t{bytes[body.size() + i]} << (8 * i);
  }
  if (stored != XXH3_64bits(body.data(), body.size())) return refuse("snapshot: bad checksum");
  SnapshotReader in(body);
  if (in.raw(snapshot_magic.size()) != snapshot_magic) return refuse("snapshot: not a snapshot");
  if (in.u32() != snapshot_format_version) return refuse("snapshot: unknown format version");
  if (in.u32() != impl_->options.shard) return refuse("snapshot: taken on another shard");
  const std::string_view failure = impl_->read_state(in);
  if (!failure.empty()) return refuse(failure);
  if (!in.at_end()) return refuse("snapshot: trailing bytes");
  if constexpr (verify_enabled) check_invariants();  // what read_state() checked, and the rest
  return true;
}

}  // namespace admit::storage
