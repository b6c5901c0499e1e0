-- wrk: every request is a distinct run (run id "brun-<prefix><thread>-<n>"), one update each.
--   wrk -t2 -c16 -d10s -s bench/wrk/updates.lua URL -- PATH KIND PREFIX [QUOTA]
-- KIND: "run" (a Recoup/Trigger.dev run object, for the relay and the baseline) or
-- "alert" (one Alertmanager v2 alert). done() prints one JSON line for the bench to parse.
local threads = 0
function setup(thread)
  thread:set("tid", threads)  -- a global in the thread's own Lua state
  threads = threads + 1
end

function init(args)
  path = args[1] or "/hooks/bench"
  kind = args[2] or "run"
  prefix = args[3] or "x"
  quota = tonumber(args[4] or "0")  -- answers per thread, then this thread stops (0: no limit)
  counter = 0
  answered = 0
  if quota > 0 then  -- only then: a response() callback costs wrk some speed
    response = function(status, headers, body)
      answered = answered + 1
      if answered >= quota then
        wrk.thread:stop()
      end
    end
  end
  headers = {["content-type"] = "application/json"}
end

local RUN = '{"id":"%s","taskIdentifier":"create-content","status":"COMPLETED",' ..
  '"createdAt":"2026-11-25T09:00:00Z","updatedAt":"2026-11-25T09:02:00Z",' ..
  '"startedAt":"2026-11-25T09:00:01Z","finishedAt":"2026-11-25T09:02:00Z","tags":["account:bench"],' ..
  '"output":{"videoSourceUrl":"https://v3.fal.media/files/bench/final.mp4","captionText":"bench"}}'
local ALERT = '[{"labels":{"alertname":"RunFinished","run":"%s","task":"create-content",' ..
  '"status":"COMPLETED"},"annotations":{"video":"https://v3.fal.media/files/bench/final.mp4"}}]'

function request()
  counter = counter + 1
  local id = "brun-" .. prefix .. tid .. "-" .. counter
  local body = string.format(kind == "alert" and ALERT or RUN, id)
  return wrk.format("POST", path, headers, body)
end


function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
