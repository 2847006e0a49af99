-- wrk script for the bench and the drill: prints one JSON line (prefixed "WRK-JSON ") with
-- throughput, latency percentiles, socket errors and, when WRK_STATUS=1, per-status counts.
-- WRK_PATHS="a,b,c" rotates request paths; WRK_DELAY_MS=N makes each connection a user
-- that waits about N ms between polls instead of hammering.

local threads = {}
local count_status = os.getenv("WRK_STATUS") == "1"
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0") or 0
local paths = {}
for path in string.gmatch(os.getenv("WRK_PATHS") or "", "[^,]+") do
  table.insert(paths, path)
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  counter = 0
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

if #paths > 0 then
  function request()
    counter = counter + 1
    return wrk.format(nil, paths[(counter % #paths) + 1])
  end
end

if delay_ms > 0 then
  function delay()
    return math.random(math.floor(delay_ms / 2), math.floor(delay_ms * 3 / 2))
  end
end

if count_status then
  function response(status, headers, body)
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
    if status >= 400 then
      local json = false
      for name, value in pairs(headers) do
        if string.lower(name) == "content-type" and string.find(value, "json", 1, true) then
          json = true
        end
      end
      if not json then
        statuses["nonjson"] = (statuses["nonjson"] or 0) + 1
      end
    end
  end
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses") or {}
    for status, n in pairs(counts) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(merged) do
    table.insert(parts, string.format('"%s":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, table.concat(parts, ",")))
end
