-- Shared by every scenario script: done() prints one line that bench/run.py parses.
-- Latencies are in microseconds; "status" counts responses with a status >= 400.
local floor = math.floor

return function(summary, latency, exhausted)
  local e = summary.errors
  io.write(string.format(
    'MBENCH {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,'
      .. '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"mean_us":%d,"max_us":%d,"exhausted":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, floor(latency:percentile(50)), floor(latency:percentile(90)),
    floor(latency:percentile(99)), floor(latency.mean), floor(latency.max), exhausted or 0))
end
