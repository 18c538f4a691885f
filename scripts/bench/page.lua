-- wrk script: GET /Users?startIndex=<random>&count=100, a page of an import.
-- Arguments after "--": N (the users seeded)
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  last_start = math.max(1, tonumber(args[1]) - 99)
  headers = bench.headers(false)
  bench.seed_random()
end

function request()
  return wrk.format("GET", wrk.path .. "?startIndex=" .. math.random(last_start) .. "&count=100", headers)
end
