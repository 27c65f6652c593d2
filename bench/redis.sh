# probe redis vs redis-cli ping, against a redis-server this function starts on a free port
# in $WORK and stops. Sourced by bench/run (needs PROBE, WORK and bench/lib.sh).
#
# Run alone:  PROBE=target/release/probe WORK=$(mktemp -d) bash -c '. bench/lib.sh; . bench/redis.sh; table_header; bench_redis'

# redis_start: a redis-server with password bench-pass on REDIS_PORT and the Unix socket
# REDIS_SOCK (pid REDIS_PID); bench/startup.sh uses it too. redis_stop ends it.
redis_start() {
    local dir="$WORK/redis"
    REDIS_PORT=$(free_port)
    REDIS_SOCK="$dir/redis.sock"
    mkdir -p "$dir"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
        --daemonize no --logfile "$dir/redis.log" --unixsocket "$REDIS_SOCK" \
        --unixsocketperm 700 --requirepass bench-pass >/dev/null 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 100); do
        redis-cli -p "$REDIS_PORT" -a bench-pass --no-auth-warning ping >/dev/null 2>&1 && break
        sleep 0.05
    done
}

redis_stop() {
    kill "$REDIS_PID"
    wait "$REDIS_PID" 2>/dev/null || true
}

bench_redis() {
    redis_start
    local port=$REDIS_PORT
    row "redis PING (password)" \
        "$PROBE" redis "redis://:bench-pass@127.0.0.1:$port" -- \
        redis-cli -p "$port" -a bench-pass --no-auth-warning ping
    row "redis PING (password, unix socket)" \
        "$PROBE" redis "unix://:bench-pass@$REDIS_SOCK" -- \
        redis-cli -s "$REDIS_SOCK" -a bench-pass --no-auth-warning ping
    row "redis PING + ROLE (--role master)" \
        "$PROBE" redis "redis://:bench-pass@127.0.0.1:$port" --role master -- \
        redis-cli -p "$port" -a bench-pass --no-auth-warning role
    redis_stop
}
