-- wrk script: create exactly N users with POST /Users, as fast as the connections allow, and
-- measure the creates themselves. Run with one wrk thread (-t1) against BASE/Users.
-- Arguments after "--": N prefix outdir phonetype [first]
--   the users are numbered first .. first+N-1 (first defaults to 0) in their userNames
--   writes outdir/ids (the new ids, one a line) and outdir/seed.result (one line of key=value)
--   and then ends the wrk run. wrk's own figures would mix in the requests sent after the N-th
--   create (a connection cannot stay silent), so each create is timed here, from sending it to
--   the response that carries its userName.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  total = tonumber(args[1]); prefix = args[2]; outdir = args[3]; phone_type = args[4]
  first = tonumber(args[5] or "0")
  sent, created, refused = 0, 0, 0
  sent_at, answered, ids, latencies = {}, {}, {}, {}
  first_sent, last_answer, finished = nil, nil, false
  post_headers = bench.headers(true)
  -- What a connection sends once all N creates are out: a cheap read, and rarely (see delay).
  idle_request = wrk.format("GET", (wrk.path:gsub("/Users$", "/ServiceProviderConfig")), bench.headers(false))
  name_pattern = '"userName"%s*:%s*"' .. prefix:gsub("%p", "%%%0") .. "(%d+)@"
end

function delay()
  if sent >= total then return 50 end
  return 0
end

local function user_body(i)
  local name = bench.user_name(prefix, i)
  return string.format(
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s",' ..
    '"externalId":"bench-%s-%d","name":{"givenName":"Given%d","familyName":"Family%d"},' ..
    '"displayName":"Given%d Family%d","active":true,' ..
    '"emails":[{"type":"work","primary":true,"value":"%s"}],' ..
    '"phoneNumbers":[{"type":"%s","value":"+1415%07d"},{"type":"mobile","value":"+1650%07d"}]}',
    name, prefix, i, i, i, i, i, name, phone_type, i, i)
end

function request()
  -- wrk calls request() once before the run to check the script; that request is never sent.
  if not checked then checked = true; return idle_request end
  if sent >= total then return idle_request end
  local i = first + sent
  sent = sent + 1
  local t = bench.now()
  first_sent = first_sent or t
  sent_at[i] = t
  return wrk.format("POST", nil, post_headers, user_body(i))
end

local function finish()
  finished = true
  table.sort(latencies)
  local function pct(p)
    if #latencies == 0 then return 0 end
    return latencies[math.max(1, math.ceil(p * #latencies))] * 1000
  end
  local f = assert(io.open(outdir .. "/ids", "w"))
  f:write(table.concat(ids, "\n"), "\n")
  f:close()
  f = assert(io.open(outdir .. "/seed.result", "w"))
  f:write(string.format("created=%d refused=%d seconds=%.6f p50_ms=%.3f p99_ms=%.3f unanswered=%d\n",
    created, refused, (last_answer or 0) - (first_sent or 0), pct(0.50), pct(0.99),
    sent - created - refused))
  f:close()
  bench.end_run()
end

function response(status, headers, body)
  if finished then return end
  local t = bench.now()
  if status == 201 then
    local i = tonumber(body:match(name_pattern) or "")
    if i and sent_at[i] and not answered[i] then
      answered[i] = true
      created = created + 1
      latencies[#latencies + 1] = t - sent_at[i]
      ids[#ids + 1] = body:match('"id"%s*:%s*"([^"]+)"')
      last_answer = t
    end
  elseif status ~= 200 then  -- a refused create (the idle reads answer 200)
    refused = refused + 1
    last_answer = t
  end
  -- Done when every create has an answer, or when none came for 5 s after the last was sent
  -- (a request lost on a dropped connection): seed.result then reports it as unanswered.
  if created + refused >= total or (sent >= total and t - (last_answer or t) > 5) then finish() end
end
