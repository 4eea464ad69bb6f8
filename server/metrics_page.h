// /metrics: the Prometheus text of every shard's counters and histograms,
// the WAL's, the process's and the first --metrics-events events', read from
// SharedState alone (relaxed atomics and the directory), so any reactor can
// render it without a hop.
#pragma once

#include <string>

#include "server/server.h"

namespace admit::server {

void render_metrics(const SharedState& shared, std::string* out);

}  // namespace admit::server
