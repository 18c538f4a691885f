-- wrk script: GET /Users/{id} of a random seeded user. Arguments after "--": idsfile
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  ids = bench.read_ids(args[1])
  headers = bench.headers(false)
  bench.seed_random()
end

function request()
  return wrk.format("GET", wrk.path .. "/" .. ids[math.random(#ids)], headers)
end
