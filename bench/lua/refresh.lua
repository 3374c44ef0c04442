-- Refresh with rotation (S4): every request spends a refresh token that no request has
-- used before, read from a pool file made for this run (one token a line).
-- Arguments after "--": PATH AUTHORIZATION POOL_FILE THREADS.  Thread k takes lines
-- k, k + THREADS, ...  A thread that runs out stops early and says so; wrk then reports
-- the rate over the time it actually ran.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local report = dofile(here .. "report.lua")
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local pool, next_index = {}, 0
local path, headers

function init(args)
  path = args[1]
  headers = {
    ["Authorization"] = args[2],
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }
  local nthreads = tonumber(args[4])
  local line_no = 0
  for line in io.lines(args[3]) do
    if line_no % nthreads == id then
      pool[#pool + 1] = line
    end
    line_no = line_no + 1
  end
  exhausted = 0
end

function request()
  next_index = next_index + 1
  local token = pool[next_index]
  if token == nil then
    exhausted = 1
    wrk.thread:stop()
    token = "exhausted"
  end
  return wrk.format("POST", path, headers, "grant_type=refresh_token&refresh_token=" .. token)
end

function done(summary, latency, requests)
  local out = 0
  for _, thread in ipairs(threads) do
    out = out + (thread:get("exhausted") or 0)
  end
  report(summary, latency, out)
end
