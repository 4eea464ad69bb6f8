#include "server/watches.h"

#include <algorithm>

#include "protocol/assertions.h"
#include "protocol/framing.h"
#include "server/http/response.h"

namespace admit::server {
namespace {

// What a watcher sees: a change of any of these is a new update.
bool same_state(const EventSnapshot& a, const EventSnapshot& b) {
  return a.version == b.version && a.available == b.available && a.held == b.held &&
         a.confirmed == b.confirmed && a.waitlisted == b.waitlisted && a.watchers == b.watchers;
}

}  // namespace

Watches::Watches() : builder_(std::make_unique<flatbuffers::FlatBufferBuilder>()) {}
Watches::~Watches() = default;

Watches::Added Watches::watch(const Watcher& watcher, std::string_view event,
                              EventDirectory& directory) {
  std::vector<std::string>& mine = by_connection_[watcher.slot];
  if (std::find(mine.begin(), mine.end(), event) != mine.end()) return Added::already;
  if (mine.size() >= watches_per_connection_max) return Added::limit;
  if (!directory.add_watchers(event, +1)) {
    if (mine.empty()) by_connection_.erase(watcher.slot);
    return Added::no_event;
  }
  mine.emplace_back(event);
  WatchedEvent& watched = events_[std::string(event)];
  const auto [at, inserted] =
      watched.watchers.try_emplace(watcher.slot, Delivery{watcher.generation, watcher.protocol, 0});
  ADMIT_ASSERT(inserted);
  ++watched.behind;  // its first update is the current state
  return Added::added;
}

bool Watches::unwatch(const Watcher& watcher, std::string_view event, EventDirectory& directory) {
  const auto found = by_connection_.find(watcher.slot);
  if (found == by_connection_.end()) return false;
  std::vector<std::string>& mine = found->second;
  const auto at = std::find(mine.begin(), mine.end(), event);
  if (at == mine.end()) return false;
  remove(event, watcher.slot, directory);
  mine.erase(at);
  if (mine.empty()) by_connection_.erase(found);
  return true;
}

void Watches::forget(const Watcher& watcher, EventDirectory& directory) {
  const auto found = by_connection_.find(watcher.slot);
  if (found == by_connection_.end()) return;
  for (const std::string& event : found->second) remove(event, watcher.slot, directory);
  by_connection_.erase(found);
}

void Watches::remove(std::string_view id, std::uint32_t slot, EventDirectory& directory) {
  const auto found = events_.find(std::string(id));
  ADMIT_ASSERT(found != events_.end());
  WatchedEvent& event = found->second;
  const auto delivery = event.watchers.find(slot);
  ADMIT_ASSERT(delivery != event.watchers.end());
  if (delivery->second.sent_seq != event.seq) --event.behind;
  event.watchers.erase(delivery);
  directory.add_watchers(id, -1);
  if (event.watchers.empty()) events_.erase(found);
}

// Reads the published state; a change makes a new update every watcher is
// behind on. True when it changed.
bool Watches::refresh(std::string_view id, WatchedEvent& event, const EventDirectory& directory) {
  const std::optional<EventSnapshot> now = directory.find(id);
  if (!now || (event.seq != 0 && same_state(event.last, *now))) return false;
  event.last = *now;
  ++event.seq;
  event.binary.clear();
  event.sse.clear();
  event.behind = static_cast<std::uint32_t>(event.watchers.size());
  return true;
}

std::span<const std::uint8_t> Watches::bytes_for(Protocol protocol, WatchedEvent& event) {
  const EventSnapshot& e = event.last;
  if (protocol == Protocol::http) {
    if (event.sse.empty()) http::append_sse_update(&event.sse, e, event.seq);
    return {reinterpret_cast<const std::uint8_t*>(event.sse.data()), event.sse.size()};
  }
  if (event.binary.empty()) {
    flatbuffers::FlatBufferBuilder& builder = *builder_;
    builder.Clear();
    const auto id = builder.CreateString(e.id.bytes, e.id.size);
    const auto update = wire::CreateUpdate(builder, id, event.seq, e.version,
                                           to_wire(e.config.state), e.config.capacity, e.available,
                                           e.held, e.confirmed, e.waitlisted, e.watchers);
    const auto updates = builder.CreateVector(&update, 1);
    finish_frame(builder, wire::CreateFrame(builder, 0, 0, updates));
    // Not GetBufferSpan(): in the clang fuzz build its finished() check
    // misfires on a finished builder (the frame verifies; tests check it).
    const std::uint8_t* bytes = builder.GetCurrentBufferPointer();
    event.binary.assign(bytes, bytes + builder.GetSize());
  }
  return event.binary;
}

}  // namespace admit::server
