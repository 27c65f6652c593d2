# probe mongodb vs a pymongo one-shot (`MongoClient(URL).admin.command("ping")` in a fresh
# python3: neither mongosh nor the mongo shell can be had here, and a driver started per
# check is what a script-based health check costs), against a private SecantusDB (PyPI, a
# MongoDB wire-protocol server) this function starts on a free port with its data in $WORK,
# and stops. A python3 that imports pymongo takes a few hundred milliseconds, so these
# rows run at most 30 times.
# Measured 2026-12-06 (RUNS=10, release musl build with --features mongodb, 2 shared cores,
# SecantusDB 0.7.0b3, pymongo 4.20.1; SCRAM-SHA-256 with SecantusDB's iteration count):
# | mongodb (up: hello, no login; vs pymongo)    |    0.900 |  869.762 |  0.00x |   1540 |  31380 |
# | mongodb login + ping (vs pymongo one-shot)   |    9.291 |  925.313 |  0.01x |   1664 |  31892 |
#
# mongodb is not in the default build yet (Cargo.toml): when $PROBE lacks it, a release
# build with --features mongodb is made in target/mongodb (or MONGO_PROBE=/path is timed).
#
# Run alone:  PROBE=target/release/probe WORK=$(mktemp -d) bash -c '. bench/lib.sh; . bench/mongodb.sh; table_header; bench_mongodb'

# mongodb_start [--auth]: a SecantusDB on MONGO_PORT (pid MONGO_PID), data in $WORK/mongodb.
mongodb_start() {
    local dir="$WORK/mongodb"
    mkdir -p "$dir"
    MONGO_PORT=$(free_port)
    (cd "$dir" && exec secantusd-py --host 127.0.0.1 --port "$MONGO_PORT" \
        --storage-path "$dir/data" --log-level ERROR "$@") >"$dir/server.log" 2>&1 &
    MONGO_PID=$!
    wait_port "$MONGO_PORT"
}

mongodb_stop() {
    # SIGTERM: the server writes its data out (the users survive a restart).
    kill -TERM "$MONGO_PID"
    wait "$MONGO_PID" 2>/dev/null || true
}

bench_mongodb() {
    if ! command -v secantusd-py >/dev/null || ! python3 -c 'import pymongo' 2>/dev/null; then
        echo "| mongodb: skipped (pip install secantusdb pymongo) |"
        return 0
    fi
    local probe=${MONGO_PROBE:-$PROBE}
    if ! "$probe" mongodb --help >/dev/null 2>&1; then
        cargo build --release --locked --quiet --features mongodb --target-dir target/mongodb 2>/dev/null
        probe=$PWD/target/mongodb/x86_64-unknown-linux-musl/release/probe
        [ -x "$probe" ] || probe=$PWD/target/mongodb/release/probe
    fi
    # A user (SCRAM-SHA-256) created on an open server, then the server restarted with --auth.
    mongodb_start
    python3 -c 'import sys, pymongo
pymongo.MongoClient(sys.argv[1], directConnection=True).admin.command(
    "createUser", "bench", pwd="bench-pass", roles=["root"])' "mongodb://127.0.0.1:$MONGO_PORT/"
    mongodb_stop
    mongodb_start --auth
    local url="mongodb://127.0.0.1:$MONGO_PORT/"
    local login="mongodb://bench:bench-pass@127.0.0.1:$MONGO_PORT/"
    cat >"$WORK/mongodb/ping.py" <<'PY'
import sys, pymongo
pymongo.MongoClient(sys.argv[1], directConnection=True).admin.command(sys.argv[2])
PY
    local few=$((RUNS < 30 ? RUNS : 30))
    # Without a login: probe's whole check is hello; pymongo's ping needs none either.
    RUNS=$few row "mongodb (up: hello, no login; vs pymongo)" \
        "$probe" mongodb "$url" -q -- \
        python3 "$WORK/mongodb/ping.py" "$url" hello
    RUNS=$few row "mongodb login + ping (vs pymongo one-shot)" \
        "$probe" mongodb "$login" -q -- \
        python3 "$WORK/mongodb/ping.py" "$login" ping
    mongodb_stop
}
