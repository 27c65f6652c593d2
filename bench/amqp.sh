# probe amqp vs rabbitmq-diagnostics ping and a pika one-shot login, against a private
# RabbitMQ node this function starts (own node name, ports on 127.0.0.1, data, logs and
# Erlang cookie in $WORK, no plugins) and stops. Needs the Debian rabbitmq-server package;
# pika (PyPI) for the login row. rabbitmq-diagnostics starts an Erlang VM per run (~1.5 s),
# so these rows run at most 20 times.
# Measured 2026-12-02 (RUNS=20, release musl build, 2 shared cores, RabbitMQ 3.10.8):
# | amqp (up: Connection.Start, no login)        |    2.513 | 1267.499 |  0.00x |   1400 |  64432 |
# | amqp login + vhost open (vs pika one-shot)   |    2.864 |  765.261 |  0.00x |   1416 |  25340 |
# Size: the amqp feature adds 32,768 bytes (2,093,336 vs 2,060,568 with
# --no-default-features --features http,postgres,redis,tls).
#
# Run alone:  PROBE=target/release/probe WORK=$(mktemp -d) bash -c '. bench/lib.sh; . bench/amqp.sh; table_header; bench_amqp'

bench_amqp() {
    local sbin=/usr/lib/rabbitmq/bin
    if [ ! -x "$sbin/rabbitmq-server" ]; then
        echo "| amqp: skipped (no $sbin/rabbitmq-server) |"
        return 0
    fi
    local dir="$WORK/rabbitmq" port dist pid
    port=$(free_port)
    dist=$(free_port)
    mkdir -p "$dir/home"
    printf 'bench-cookie-%s' "$$" >"$dir/home/.erlang.cookie"
    chmod 600 "$dir/home/.erlang.cookie"
    : >"$dir/enabled_plugins"
    : >"$dir/rabbitmq-env.conf"
    echo "listeners.tcp.default = 127.0.0.1:$port" >"$dir/rabbitmq.conf"
    local node="probe-bench-$port@localhost"
    local env=(env HOME="$dir/home" RABBITMQ_NODENAME="$node" RABBITMQ_NODE_PORT="$port"
        RABBITMQ_DIST_PORT="$dist" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_PID_FILE="$dir/pid"
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        ERL_EPMD_ADDRESS=127.0.0.1)
    "${env[@]}" "$sbin/rabbitmq-server" >"$dir/server.out" 2>&1 &
    pid=$!
    # await_startup fails at once while the node is not registered yet: retry.
    for _ in $(seq 90); do
        "${env[@]}" "$sbin/rabbitmqctl" -n "$node" await_startup --timeout 90 >/dev/null 2>&1 && break
        sleep 1
    done
    "${env[@]}" "$sbin/rabbitmqctl" -n "$node" add_user bench bench-pass >/dev/null
    "${env[@]}" "$sbin/rabbitmqctl" -n "$node" set_permissions -p / bench '.*' '.*' '.*' >/dev/null

    "$PROBE" amqp "amqp://bench:bench-pass@127.0.0.1:$port/" || return 1
    local few=$((RUNS < 20 ? RUNS : 20))
    RUNS=$few row "amqp (up: Connection.Start, no login)" \
        "$PROBE" amqp "amqp://127.0.0.1:$port" -q -- \
        "${env[@]}" "$sbin/rabbitmq-diagnostics" -n "$node" -q ping
    cat >"$dir/login.py" <<'PY'
import sys, pika
pika.BlockingConnection(pika.URLParameters(sys.argv[1])).close()
PY
    if python3 -c 'import pika' 2>/dev/null; then
        RUNS=$few row "amqp login + vhost open (vs pika one-shot)" \
            "$PROBE" amqp "amqp://bench:bench-pass@127.0.0.1:$port/" -q -- \
            python3 "$dir/login.py" "amqp://bench:bench-pass@127.0.0.1:$port/%2F"
    fi

    kill "$pid"
    wait "$pid" 2>/dev/null || true
}
