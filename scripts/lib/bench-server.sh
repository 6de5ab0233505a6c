# Sourced by scripts/bench and scripts/bench-ab: the server as the benchmarks run it, on a given database, with
# long-lived access tokens and no sign-in limit, logging only warnings.

# A free loopback port.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A fresh platform operator's token for one run.
new_platform_token() {
    echo "evp_bench_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
}

# start_bench_server FOLDER APPLICATION_URL OWNER_URL SERVE_FOLDER PORT PLATFORM_TOKEN: starts FOLDER/evalium (its log
# is SERVE_FOLDER.log), waits until it is ready, and sets server_pid. A server that does not get ready in 30 s ends
# the run with its log.
start_bench_server() {
    EVALIUM_DATABASE_URL="$2" EVALIUM_MIGRATION_DATABASE_URL="$3" \
    EVALIUM_PLATFORM_TOKEN="$6" EVALIUM_ACCESS_TOKEN_MINUTES=600 EVALIUM_SIGN_IN_REQUESTS_PER_ADDRESS=1000000 \
    EVALIUM_LOG_LEVEL=warning \
        "$1/evalium" serve --port "$5" --data-dir "$4" >> "$4.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 150); do curl -sf "http://127.0.0.1:$5/readyz" >/dev/null && return; sleep 0.2; done
    cat "$4.log"; echo "the server did not start"; exit 1
}

# Stops the server start_bench_server started. One that has not stopped 60 s after SIGTERM (it bounds its own stop
# at 40 s) is killed, and said so, rather than holding the run forever.
stop_bench_server() {
    kill "$server_pid"
    for _ in $(seq 600); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "the server had not stopped 60 s after SIGTERM; killing it" >&2
        kill -9 "$server_pid"
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
