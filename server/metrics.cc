#include "server/metrics.h"

namespace admit::server {

std::string_view protocol_name(Protocol protocol) {
  return protocol == Protocol::binary ? "binary" : "http";
}

std::string_view metric_op_name(MetricOp op) {
  return op == MetricOp::other ? "other" : op_name(static_cast<Op>(op));
}

}  // namespace admit::server
