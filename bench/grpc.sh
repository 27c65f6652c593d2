# probe grpc vs a one-shot Python grpcio health client, against the grpcio test server
# (tests/it/support/grpc_server.py) started on a free port in $WORK and stopped.
# grpc-health-probe (the usual tool, an 11 MB Go binary) is not installable here, so the
# baseline is the reference implementation's own client: a python3 script with grpcio and
# grpcio-health-checking, one Check call, like an exec probe would run it. (A file, not
# `python3 -c`: hyperfine -N splits its command line itself and cannot read the newlines
# a `-c` program needs.)
# Sourced by bench/run (needs PROBE, WORK and bench/lib.sh).
#
# Run alone:  PROBE=target/x86_64-unknown-linux-musl/release/probe WORK=$(mktemp -d) RUNS=50 bash -c '. bench/lib.sh; . bench/grpc.sh; table_header; bench_grpc'

bench_grpc() {
    local port pid client
    python3 -c 'import grpc, grpc_health.v1' 2>/dev/null ||
        python3 -m pip install -q grpcio grpcio-health-checking ||
        python3 -m pip install -q --break-system-packages grpcio grpcio-health-checking
    port=$(free_port)
    mkfifo "$WORK/grpc.in"
    GRPC_VERBOSITY=NONE python3 tests/it/support/grpc_server.py "$port" <"$WORK/grpc.in" >/dev/null 2>&1 &
    pid=$!
    exec 7>"$WORK/grpc.in"
    wait_port "$port"

    client="$WORK/grpc_health_check.py"
    cat >"$client" <<'PY'
import sys, grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
service = sys.argv[2] if len(sys.argv) > 2 else ""
with grpc.insecure_channel(sys.argv[1]) as channel:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
sys.exit(0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1)
PY

    row "grpc Health/Check (h2c) vs python grpcio" \
        "$PROBE" grpc "127.0.0.1:$port" -- \
        python3 "$client" "127.0.0.1:$port"
    row "grpc Health/Check --service vs python grpcio" \
        "$PROBE" grpc "127.0.0.1:$port" --service probe.Test -- \
        python3 "$client" "127.0.0.1:$port" probe.Test

    exec 7>&-
    wait "$pid" 2>/dev/null || true
    rm -f "$WORK/grpc.in"
}
