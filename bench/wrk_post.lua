-- bench-api's request schedule (bench/wrk.py fills in the body's path and the rate): send times
-- 1/rate apart, shared by the thread's connections; each asks for the next slot and waits
-- until it comes. `os.clock` is CPU time in Lua, so wall time comes from gettimeofday.
-- With one wrk thread, `unexpected` is that thread's count, which is the whole run's.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } timeval;
int gettimeofday(timeval *tv, void *tz);
]]
local tv = ffi.new("timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body_path}", "rb"):read("*a")
local interval = 1000 / {rate}
local next_send = nil
local unexpected = 0

function delay()
  local now = now_ms()
  if next_send == nil then next_send = now end
  next_send = next_send + interval
  local wait = next_send - now
  if wait < 0 then return 0 end
  return wait
end

function response(status, headers, body)
  if status ~= 202 then unexpected = unexpected + 1 end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %d %d %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, unexpected))
end
