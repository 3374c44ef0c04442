-- One fixed request, sent again and again (S1, S2, S3).
-- Arguments after "--": METHOD PATH BODY [HEADER ...], each header as "Name: value";
-- an empty BODY sends none.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local report = dofile(here .. "report.lua")
local req

function init(args)
  local headers = {}
  for i = 4, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  local body = args[3]
  if body == "" then
    body = nil
  end
  req = wrk.format(args[1], args[2], headers, body)
end

function request()
  return req
end

function done(summary, latency, requests)
  report(summary, latency, 0)
end
