# probe redis vs redis-cli ping, against a redis-server this function starts on a free port
# in $WORK and stops. Sourced by bench/run (needs PROBE, WORK and bench/lib.sh).
#
# Run alone:  PROBE=target/release/probe WORK=$(mktemp -d) bash -c '. bench/lib.sh; . bench/redis.sh; table_header; bench_redis'

bench_redis() {
    local port pid dir
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    dir="$WORK/redis"
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
        --daemonize no --logfile "$dir/redis.log" --unixsocket "$dir/redis.sock" \
        --unixsocketperm 700 --requirepass bench-pass >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        redis-cli -p "$port" -a bench-pass --no-auth-warning ping >/dev/null 2>&1 && break
        sleep 0.05
    done

    row "redis PING (password)" \
        "$PROBE" redis "redis://:bench-pass@127.0.0.1:$port" -- \
        redis-cli -p "$port" -a bench-pass --no-auth-warning ping
    row "redis PING (password, unix socket)" \
        "$PROBE" redis "unix://:bench-pass@$dir/redis.sock" -- \
        redis-cli -s "$dir/redis.sock" -a bench-pass --no-auth-warning ping
    row "redis PING + ROLE (--role master)" \
        "$PROBE" redis "redis://:bench-pass@127.0.0.1:$port" --role master -- \
        redis-cli -p "$port" -a bench-pass --no-auth-warning role

    kill "$pid"
    wait "$pid" 2>/dev/null || true
}
