-- wrk script: POST <path> with {"user":"<prefix><thread>-<n>","seats":1}, n counting up,
-- so every request is a new user (a fresh event per run then never sees ALREADY_BOOKED).
--
--   wrk -t1 -c50 -d5s -s book.lua URL -- PATH [PIPELINE=1] [PREFIX=u] [COUNT=0]
--
-- PIPELINE: requests per write (HTTP/1.1 pipelining; wrk then times each batch, not each
--   request). COUNT=1: response() counts answers per status. It makes wrk build a Lua table
--   per answer, which costs the load generator more than the request itself, so timed runs
--   leave it off and rely on wrk's own count of answers >= 400 (non2xx below) plus the
--   server's counters; short check runs turn it on.
-- done() prints one line of key=value: requests rps p50_ms p99_ms ... non2xx sent unanswered
-- and, with COUNT=1, s200 s201 s409 s_other.
local path, pipeline, prefix
local threads = {}
local next_thread = 0
-- globals, so that done() can read them from each thread with thread:get()
sent, counts, thread_id, counter = 0, {}, 0, 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

local function one()
  counter = counter + 1
  return wrk.format("POST", path, nil,
    '{"user":"' .. prefix .. thread_id .. "-" .. counter .. '","seats":1}')
end

function init(args)
  path = args[1] or "/v1/events/bench/bookings"
  pipeline = tonumber(args[2] or "1")
  prefix = args[3] or "u"
  if args[4] ~= "1" then response = nil end -- wrk calls response() only if it is defined
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  sent = sent + pipeline
  if pipeline == 1 then return one() end
  local batch = {}
  for i = 1, pipeline do batch[i] = one() end
  return table.concat(batch)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total, c = 0, {}
  for _, t in ipairs(threads) do
    total = total + t:get("sent")
    for k, v in pairs(t:get("counts")) do c[k] = (c[k] or 0) + v end
  end
  local counted = ""
  if next(c) ~= nil then
    local other = summary.requests - (c[200] or 0) - (c[201] or 0) - (c[409] or 0)
    counted = string.format(" s200=%d s201=%d s409=%d s_other=%d",
      c[200] or 0, c[201] or 0, c[409] or 0, other)
  end
  local e = summary.errors
  io.write(string.format(
    "requests=%d secs=%.3f rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "non2xx=%d sent=%d unanswered=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d%s\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.status, total, total - summary.requests, e.connect, e.read, e.write, e.timeout, counted))
end
