-- wrk: replays pre-signed requests (Standard Webhooks signatures computed by bench/loadgen.py,
-- since wrk's Lua has no HMAC). Each thread takes every Nth line of the file; a thread that
-- runs out starts over (repeats are duplicates, not transitions: the bench reports them).
--   wrk -t2 -c16 -d10s -s bench/wrk/signed.lua URL -- FILE THREADS PATH [once]
-- "once": each thread stops when its share of the file has been answered (a fixed count).
-- line: webhook-id <TAB> webhook-timestamp <TAB> webhook-signature <TAB> body
local threads = 0
function setup(thread)
  thread:set("tid", threads)  -- a global in the thread's own Lua state
  threads = threads + 1
end

function init(args)
  local file, threads, path = args[1], tonumber(args[2]), args[3]
  reqs = {}
  local i = 0
  for line in io.lines(file) do
    if i % threads == tid then
      local id, stamp, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, {
        ["content-type"] = "application/json",
        ["webhook-id"] = id, ["webhook-timestamp"] = stamp, ["webhook-signature"] = sig,
      }, body)
    end
    i = i + 1
  end
  n = 0
  answered = 0
  if args[4] == "once" then
    response = function(status, headers, body)
      answered = answered + 1
      if answered >= #reqs then
        wrk.thread:stop()
      end
    end
  end
end

function request()
  n = n + 1
  return reqs[(n - 1) % #reqs + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
