# bench_serve: `probe serve` against exec probes (issue 29), against the PostgreSQL server of
# bench/postgres.sh (a logged-in check: scram-sha-256 with a password, as a deep check is):
#   - CPU over SERVE_SECONDS (default 60) of probing once a second: a `probe postgres` process
#     per probe (bench/serve_cpu.py forks and waits for each, as a kubelet's exec probe does,
#     the container runtime's own cost left out) against GET /readyz to
#     `probe serve --interval 10s` (its whole life, and without its start); goal: serve
#     <= 1/20 of exec. Rows for the same GETs to a minimal C server (bench/floor/serve.c:
#     what TCP alone costs per request) and with PostgreSQL's side counted (a backend per
#     login);
#   - serve's RSS after 10 s and after SERVE_SECONDS of that; SERVE_LONG=1 adds a run of
#     10 minutes (RSS after 1 and after 10 minutes: no growth);
#   - answer latency p50/p99 of GET /readyz under 200 concurrent clients for 10 s
#     (bench/serve_load.c, a new connection per request);
#   - the hostile-client table of tests/it/serve/hostile.rs against this binary: the worst
#     median and slowest answer to a normal client under attack, and the peak RSS (VmHWM).
# Run alone:  ONLY=serve bench/run      (PROBE=path for a given binary; figures in
# docs/benchmarks.md)

bench_serve() {
    if ! postgres_installed; then
        echo "| serve: skipped (no /usr/lib/postgresql/*/bin) | | | | | |"
        return 0
    fi
    local seconds=${SERVE_SECONDS:-60}
    postgres_start
    local url="postgres://app:bench-secret@127.0.0.1:$PG_PORT/app"
    must_succeed "$PROBE" postgres "$url" -q
    local exec_out serve_out
    export PG_PID
    PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
    musl-gcc -static -O2 -o "$WORK/serve_floor" bench/floor/serve.c
    local floor_out
    exec_out=$(python3 bench/serve_cpu.py exec "$seconds" "$PROBE" "$url")
    serve_out=$(python3 bench/serve_cpu.py serve "$seconds" "$PROBE" "$url" 10 "$seconds")
    floor_out=$(python3 bench/serve_cpu.py floor "$seconds" "$WORK/serve_floor" "$(free_port)")
    python3 - "$seconds" $exec_out $serve_out $floor_out <<'PY'
import sys
seconds = sys.argv[1]
exec_ms, exec_failed, exec_db, serve_ms, serve_failed, serve_db, steady_ms, rss_10, rss_end, floor_ms = map(float, sys.argv[2:])
name = "serve vs exec probes: CPU, %ss at 1/s (ms)" % seconds
print("| %-44s | %8.1f | %8.1f | %5.3fx | %6s | %6s |" % (name, serve_ms, exec_ms, serve_ms / exec_ms, "", ""))
name = "the same, serve's start left out (ms)"
print("| %-44s | %8.1f | %8.1f | %5.3fx | %6s | %6s |" % (name, steady_ms, exec_ms, steady_ms / exec_ms, "", ""))
name = "GETs alone: minimal C server (floor) (ms)"
print("| %-44s | %8.1f | %8.1f | %5.3fx | %6s | %6s |" % (name, floor_ms, exec_ms, floor_ms / exec_ms, "", ""))
name = "the same + PostgreSQL's side (ms, 10ms ticks)"
print("| %-44s | %8.0f | %8.0f | %5.3fx | %6s | %6s |" % (name, serve_ms + serve_db, exec_ms + exec_db, (serve_ms + serve_db) / (exec_ms + exec_db), "", ""))
print("| %-44s | %8s | %8s | %6s | %6.0f | %6.0f |" % ("serve RSS after %ss (probe) vs 10s (base)" % seconds, "", "", "", rss_end, rss_10))
if exec_failed or serve_failed:
    print("| serve: %d exec probes and %d GETs failed |  |  |  |  |  |" % (exec_failed, serve_failed))
PY
    if [ -n "${SERVE_LONG:-}" ]; then
        serve_out=$(python3 bench/serve_cpu.py serve 600 "$PROBE" "$url" 60 600)
        python3 - $serve_out <<'PY'
import sys
_, failed, _, _, rss_1m, rss_10m = map(float, sys.argv[1:])
print("| %-44s | %8s | %8s | %6s | %6.0f | %6.0f |" % ("serve RSS after 10 min (probe) vs 1 min (base)", "", "", "", rss_10m, rss_1m))
PY
    fi
    # Latency under 200 concurrent clients.
    musl-gcc -static -O2 -pthread -o "$WORK/serve_load" bench/serve_load.c
    local port load serve_pid
    port=$(free_port)
    "$PROBE" serve --listen "127.0.0.1:$port" --ready "$url" --interval 10s -q &
    serve_pid=$!
    wait_port "$port"
    sleep 0.5
    load=$("$WORK/serve_load" 127.0.0.1 "$port" /readyz 200 10 || true)
    kill "$serve_pid"
    wait "$serve_pid" 2>/dev/null || true
    python3 - $load <<'PY'
import sys
count, failed, p50, p99, worst = sys.argv[1:]
print("| %-44s | %8.2f | %8.2f | %6s |        |        |" % ("serve /readyz, 200 clients: p50, p99 (ms)", float(p50), float(p99), ""))
print("| serve: %s answers in 10 s, %s failed, slowest %.1f ms | | | | | |" % (count, failed, float(worst)))
PY
    postgres_stop
    bench_serve_hostile
}

# The hostile-client table against this binary (tests/it/serve/hostile.rs prints one line
# per attack: median, p90 and slowest answer in ms, peak and starting RSS in KiB).
bench_serve_hostile() {
    local lines
    lines=$(HOSTILE_PROBE=$PROBE cargo test --locked --quiet --test it serve::hostile -- \
        --nocapture --test-threads 1 2>&1 | grep -o 'serve-hostile.*' || true)
    if [ -z "$lines" ]; then
        echo "| serve hostile clients: the table did not run (cargo test --test it serve::hostile) | | | | | |"
        return
    fi
    printf '%s\n' "$lines" | python3 -c '
import sys
rows = [line.rstrip("\n").split("\t") for line in sys.stdin]
median = max(rows, key=lambda r: float(r[2]))
slowest = max(rows, key=lambda r: float(r[4]))
rss = max(rows, key=lambda r: int(r[5]))
print("| serve under attack (%d rows): worst median, slowest (ms) | %8.1f | %8.1f | %6s |        |        |"
      % (len(rows), float(median[2]), float(slowest[4]), ""))
print("| serve under attack: worst peak RSS (%s), before attacks | | | | %6s | %6s |"
      % (rss[1], rss[5], rss[6]))
'
}
