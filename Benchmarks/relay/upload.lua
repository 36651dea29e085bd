-- wrk script: POST /v1/sessions with a new session id every request (a one-minute visit:
-- 60 per-second samples), authenticated with the device token in $HH_TOKEN.
-- Prints "rps p50_ms p99_ms non2xx" on its last line.
local token = os.getenv("HH_TOKEN")
local threads = {}
local counter = 0
local prefix = 0

function setup(thread)
  thread:set("prefix", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + prefix)
end

local samples = {}
for t = 5, 64 do
  samples[#samples + 1] = string.format('{"bpm":%.1f,"snr_db":6.2,"t":%d}', 70 + (t % 7) * 0.3, t)
end
local series = table.concat(samples, ",")

request = function()
  counter = counter + 1
  local id = string.format("%08x-%04x-4%03x-a%03x-%012x", math.random(0, 0x7fffffff), prefix, counter % 4096,
    math.random(0, 4095), counter * 4096 + math.random(0, 4095))
  local body = '{"end_reason":"absence","ended_at":"2026-11-26T09:31:05.000Z","heart_rate":[' .. series ..
    '],"id":"' .. id .. '","metadata":{"pulse_method":"pos","software_version":"0.4.0"},' ..
    '"schema_version":1,"started_at":"2026-11-26T09:30:00.000Z","summary":{"heart_rate_median_bpm":70.9,' ..
    '"seconds_with_estimate":60},"voice_turns":[]}'
  return wrk.format("POST", "/v1/sessions", {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("RESULT %.1f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, non2xx))
end
