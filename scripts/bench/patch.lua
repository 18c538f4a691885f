-- wrk script: PATCH /Users/{id} of a random seeded user, replacing its number of one phone
-- type (the 8x8 number for the bridge). Arguments after "--": idsfile phonetype
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  ids = bench.read_ids(args[1])
  phone_type = args[2]
  headers = bench.headers(true)
  bench.seed_random()
end

function request()
  local body = string.format(
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace",' ..
    '"path":"phoneNumbers[type eq \\"%s\\"].value","value":"+1415%07d"}]}',
    phone_type, math.random(9999999))
  return wrk.format("PATCH", wrk.path .. "/" .. ids[math.random(#ids)], headers, body)
end
