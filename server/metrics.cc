#include "server/metrics.h"

namespace admit::server {
namespace {

constexpr std::array<std::string_view, metric_op_count> metric_op_names = {
    "hello",
    "create_event",
    "update_event",
    "get_event",
    "list_events",
    "book",
    "confirm",
    "cancel",
    "get_booking",
    "list_bookings",
    "waitlist_position",
    "leave_waitlist",
    "stats",
    "metrics",
    "healthz",
    "watch",
    "unwatch",
    "page",
    "other",
};

}  // namespace

std::string_view protocol_name(Protocol protocol) {
  return protocol == Protocol::binary ? "binary" : "http";
}

std::string_view metric_op_name(MetricOp op) {
  return metric_op_names[static_cast<std::size_t>(op)];
}

MetricOp metric_op_of(ShardOp op) {
  switch (op) {
    case ShardOp::create_event:
      return MetricOp::create_event;
    case ShardOp::update_event:
      return MetricOp::update_event;
    case ShardOp::book:
      return MetricOp::book;
    case ShardOp::confirm:
      return MetricOp::confirm;
    case ShardOp::cancel:
      return MetricOp::cancel;
    case ShardOp::get_event:
      return MetricOp::get_event;
    case ShardOp::get_booking:
      return MetricOp::get_booking;
    case ShardOp::list_bookings:
      return MetricOp::list_bookings;
    case ShardOp::waitlist_position:
      return MetricOp::waitlist_position;
    case ShardOp::leave_waitlist:
      return MetricOp::leave_waitlist;
  }
  return MetricOp::other;
}

}  // namespace admit::server
