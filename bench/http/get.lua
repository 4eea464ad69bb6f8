-- wrk script: GET of the URL, the same request every time (static: no Lua per request).
--
--   wrk -t1 -c50 -d5s -s get.lua URL [-- COUNT=0]
--
-- COUNT=1: response() counts answers per status (see book.lua). done() prints one line of
-- key=value in book.lua's format.
counts = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  if args[1] ~= "1" then response = nil end
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local c = {}
  for _, t in ipairs(threads) do
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
    "non2xx=%d sent=%d unanswered=0 err_connect=%d err_read=%d err_write=%d err_timeout=%d%s\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.status, summary.requests, e.connect, e.read, e.write, e.timeout, counted))
end
