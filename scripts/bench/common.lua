-- Helpers shared by the wrk scripts of scripts/bench/measure.sh; each phase script loads this
-- file with dofile. wrk runs LuaJIT, so the monotonic clock and the signal that ends a run
-- early come from libc through the ffi.
local ffi = require("ffi")
pcall(ffi.cdef, [[
  struct bench_timespec { long sec; long nsec; };
  int clock_gettime(int clock, struct bench_timespec *ts);
  int getpid(void);
  int kill(int pid, int sig);
]])

bench = {}

-- Seconds on CLOCK_MONOTONIC.
function bench.now()
  local ts = ffi.new("struct bench_timespec")
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.sec) + tonumber(ts.nsec) / 1e9
end

-- Ends the whole wrk run now: wrk treats SIGINT as "stop and report".
function bench.end_run()
  ffi.C.kill(ffi.C.getpid(), 2)
end

-- Request headers; the bearer token comes from the environment, never from the command line.
function bench.headers(json_body)
  local h = { ["Accept"] = "application/scim+json" }
  local token = os.getenv("SCIM_BEARER_TOKEN")
  if token and token ~= "" then h["Authorization"] = "Bearer " .. token end
  if json_body then h["Content-Type"] = "application/scim+json" end
  return h
end

-- The userName of seeded user i (0-based) in a run whose names start with prefix.
function bench.user_name(prefix, i)
  return string.format("%s%06d@example.com", prefix, i)
end

function bench.read_ids(path)
  local ids = {}
  for line in io.lines(path) do
    if line ~= "" then ids[#ids + 1] = line end
  end
  if #ids == 0 then error(path .. " holds no ids") end
  return ids
end

-- Different random sequences per thread and per run.
function bench.seed_random()
  math.randomseed(os.time() + (thread_no or 0) * 104729)
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

-- One machine-readable line for measure.sh (times in microseconds).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
