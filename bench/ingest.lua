-- wrk script for bench/ingest.py: every thread posts its own slice of pre-built multipart bodies,
-- each at most once when there are enough of them (a signed application carries a single-use nonce),
-- and counts 201s apart from anything else.
-- Arguments: PATH BODY_DIR BODY_COUNT THREADS BOUNDARY

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  path = args[1]
  local dir, total, nthreads = args[2], tonumber(args[3]), tonumber(args[4])
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. args[5]
  bodies = {}
  for i = id, total - 1, nthreads do
    local f = assert(io.open(dir .. "/" .. i .. ".bin", "rb"))
    bodies[#bodies + 1] = f:read("*all")
    f:close()
  end
  sent, created, other, reused = 0, 0, 0, 0
end

function request()
  sent = sent + 1
  if sent > #bodies then
    reused = reused + 1
  end
  return wrk.format(nil, path, nil, bodies[((sent - 1) % #bodies) + 1])
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c, o, r = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
    r = r + t:get("reused")
  end
  io.write(string.format("RESULT %d %d %d %d %d %d\n", c, o, r, latency:percentile(50), latency:percentile(99),
    summary.duration))
end
