#!/usr/bin/env bash
# Instructions a release server spends per request on `GET /healthz` and on a cached token
# hand-out, counted by valgrind's callgrind: the same count for the same binary and inputs
# whatever else the machine does, so two builds can be compared where wall-clock rates are
# too noisy. Loopback only: mock-looker and the server listen on 127.0.0.1.
#
#   cargo build --release -p latch-tests --bins
#   tests/instructions-per-request.sh [SERVER_BINARY] [REQUESTS]
#
# Needs valgrind, curl and python3. Leaves the last profile in $OUT (callgrind_annotate it).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
server=${1:-$here/target/release/latch-server}
requests=${2:-2000}
out=${OUT:-/tmp/latch-token.callgrind}
port=18181
mock_port=18182
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

export LATCH_DATABASE_URL="sqlite://$work/latch.db?mode=rwc"
"$here/target/release/mock-looker" --listen "127.0.0.1:$mock_port" >/dev/null 2>&1 &
pids+=($!)
key=$("$server" api-key create --org bench --scope admin 2>/dev/null)
master=$(python3 -c "import os, base64; print(base64.b64encode(os.urandom(32)).decode())")
LATCH_WORKERS=1 LATCH_LOG=warn LATCH_MASTER_KEY=$master LATCH_LISTEN_ADDR=127.0.0.1:$port \
    LATCH_ALLOW_HTTP_HOSTS=true LATCH_EGRESS_ALLOW_CIDRS=127.0.0.0/8 \
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$server" serve \
    >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 1; done
id=$(curl -sf -X POST "127.0.0.1:$port/v1/credentials" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d "{\"name\": \"hot path\", \"connector\": \"looker\",
         \"config\": {\"api_host_url\": \"http://127.0.0.1:$mock_port\", \"client_id\": \"mock-client-id\"},
         \"secrets\": {\"client_secret\": \"mock-client-secret\"}}" |
    python3 -c "import json, sys; print(json.load(sys.stdin)['id'])")

python3 - "$port" "$key" "$id" "$requests" "$work" "$out" <<'PY'
import glob, http.client, os, re, shutil, subprocess, sys

port, key, credential, requests, work, out = sys.argv[1:]
requests = int(requests)

def send(route, count):
    connection = http.client.HTTPConnection("127.0.0.1", int(port))
    for _ in range(count):
        if route == "healthz":
            connection.request("GET", "/healthz")
        else:
            connection.request(
                "POST", f"/v1/credentials/{credential}/token",
                body='{"min_ttl_seconds": 300}',
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
    connection.close()

def counted():
    subprocess.run(["callgrind_control", "-d"], capture_output=True, check=True)
    latest = max(glob.glob(work + "/cg.out.*"), key=os.path.getmtime)
    text = open(latest).read()
    shutil.copy(latest, out)
    return int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1))

for route in ["healthz", "token"]:
    send(route, 200)  # warm: connections, caches, the cached token
    subprocess.run(["callgrind_control", "-z"], capture_output=True, check=True)
    send(route, requests)
    print(f"{route:8s} {counted() / requests:8.0f} instructions per request")
PY
