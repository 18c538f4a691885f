-- wrk script: GET /Users?filter=userName eq "<a random seeded userName>", the lookup IdPs make
-- before every create. Arguments after "--": N prefix
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  total = tonumber(args[1]); prefix = args[2]
  headers = bench.headers(false)
  bench.seed_random()
end

function request()
  local name = bench.user_name(prefix, math.random(total) - 1):gsub("@", "%%40")
  return wrk.format("GET", wrk.path .. "?filter=userName%20eq%20%22" .. name .. "%22", headers)
end
