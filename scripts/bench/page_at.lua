-- wrk script: GET /Users?startIndex=<S>&count=100 again and again, one fixed page (the first,
-- or one near the end of a large collection: the cost of a page should not grow with S).
-- Arguments after "--": S (the startIndex)
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  path = wrk.path .. "?startIndex=" .. tonumber(args[1]) .. "&count=100"
  headers = bench.headers(false)
end

function request()
  return wrk.format("GET", path, headers)
end
