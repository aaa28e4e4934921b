-- wrk script for the JSON API scenario: POSTs the body the runner wrote to the file
-- named by BENCH_POST_BODY (a deterministic 10 KiB JSON document, see
-- bench/src/runner/scenarios.rs) with Content-Type: application/json.
local path = os.getenv("BENCH_POST_BODY")
assert(path, "BENCH_POST_BODY is not set")
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
