-- wrk script of the benchmark (bench/bench.py runs it; see docs/performance.md).
--
-- Every request comes pre-built from a file of signed requests generated just before the run
-- (wrk's Lua cannot compute HMAC-SHA256 cheaply). Arguments after `--`:
--   <file> <threads> <mode> [token]
-- mode "post": each line is "<X-Signature>\t<JSON body>", posted to /api/webhook/bank/;
-- mode "get":  each line is a path, read with "Authorization: Bearer <token>".
-- Thread i takes lines i, i+n, i+2n... and cycles through them; a wrap-around (a replay of
-- an operation already sent) is counted and reported, so a too-short file shows.
-- The summary goes, as one JSON object, to the file named by $WRK_OUT. There is no
-- `response()` hook: it makes wrk hand every response to Lua, about 15 % of wrk's CPU per
-- request (0.025 vs 0.021 ms on /healthz, 3 runs each). Answers other than 2xx are counted
-- from the server's own `http_requests_total` (bench.py), and wrk's `status` count (its
-- 4xx and 5xx answers) is checked too.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads, mode, token = args[1], tonumber(args[2]), args[3], args[4]
  requests = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      if mode == "get" then
        requests[#requests + 1] = wrk.format("GET", line, { ["Authorization"] = "Bearer " .. token })
      else
        local signature, body = line:match("^([^\t]*)\t(.*)$")
        requests[#requests + 1] = wrk.format("POST", "/api/webhook/bank/", {
          ["Content-Type"] = "application/json",
          ["X-Signature"] = signature,
        }, body)
      end
    end
    i = i + 1
  end
  position = 0
  wrapped = 0
end

function request()
  position = position + 1
  if position > #requests then
    position = 1
    wrapped = wrapped + 1
  end
  return requests[position]
end

function done(summary, latency, requests)
  local wrapped_total = 0
  for _, thread in ipairs(threads) do
    wrapped_total = wrapped_total + (thread:get("wrapped") or 0)
  end
  local e = summary.errors
  local out = io.open(os.getenv("WRK_OUT"), "w")
  out:write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"status":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"wrapped":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout, wrapped_total))
  out:close()
end
