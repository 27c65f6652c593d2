# Start-up cost by environment (issue 23): per check, the instructions of one run of probe
# (valgrind's callgrind, total Ir) in an empty environment, a 9-variable Docker-image one and
# a 300-variable Kubernetes one, with minor page faults and peak RSS; paired wall-clock
# ratios against the C floor, microcheck and mysqladmin; and the start-up of `probe check`
# with thousands of password-carrying targets (dry run). Its own tables, after the main one.
#
#   ONLY=startup bench/run                          this part alone (about two minutes)
#   PROBE=/path/probe ONLY=startup bench/run        another build instead of target/
#   BASELINE_PROBE=/path/old ONLY=startup bench/run adds the old binary's columns and rows
#   MICROCHECK_DIR=/dir ONLY=startup bench/run      adds portcheck/httpcheck where /dir has them
#   IR_RUNS=3 FAULT_RUNS=5 TARGETS="1000 4000"      callgrind runs, time runs, target counts
#
# Needs PROBE, WORK, FLOOR, PAIRED (set by bench/run), bench/lib.sh and the server helpers of
# bench/redis.sh, bench/mysql.sh and bench/postgres.sh.

IR_RUNS=${IR_RUNS:-3}
FAULT_RUNS=${FAULT_RUNS:-5}
TARGETS=${TARGETS:-1000 4000}

# startup_envs: writes $WORK/env/{empty,9,300}, one NAME=VALUE a line. 9 is what an official
# Python image sets plus the two URLs an app gets; 300 adds the service links Kubernetes
# injects for 40 services (7 variables each) and secrets probe never reads.
startup_envs() {
    local dir="$WORK/env" i=0 name ip port
    mkdir -p "$dir" "$WORK/secrets"
    : >"$dir/empty"
    cat >"$dir/9" <<'ENV'
PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HOSTNAME=5d8c3f2a9b71
HOME=/root
LANG=C.UTF-8
GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305
PYTHON_VERSION=3.12.7
PYTHON_SHA256=24887b92e2afd4a2ac602419ad4b596372f67ac9b077190f459aba390faf5550
DATABASE_URL=postgres://app:Xk9vQ2mL7pR4tZ@db.default.svc.cluster.local:5432/app
REDIS_URL=redis://:Jq3tW8nB5yZ1cV@cache.default.svc.cluster.local:6379/0
ENV
    cp "$dir/9" "$dir/300"
    for name in KUBERNETES API WEB FRONTEND AUTH USERS ORDERS PAYMENTS BILLING INVENTORY \
                CATALOG SEARCH CART CHECKOUT SHIPPING NOTIFICATIONS EMAIL SMS GATEWAY ADMIN \
                REPORTING ANALYTICS METRICS GRAFANA PROMETHEUS ALERTMANAGER LOKI TEMPO JAEGER \
                KAFKA ZOOKEEPER RABBITMQ ELASTICSEARCH KIBANA MINIO VAULT CONSUL KEYCLOAK \
                POSTGRES REDIS; do
        i=$((i + 1))
        ip="10.96.$((i * 7 % 256)).$((i * 37 % 254 + 1))"
        port=80
        [ "$name" = KUBERNETES ] && port=443
        cat >>"$dir/300" <<ENV
${name}_SERVICE_HOST=$ip
${name}_SERVICE_PORT=$port
${name}_PORT=tcp://$ip:$port
${name}_PORT_${port}_TCP=tcp://$ip:$port
${name}_PORT_${port}_TCP_PROTO=tcp
${name}_PORT_${port}_TCP_PORT=$port
${name}_PORT_${port}_TCP_ADDR=$ip
ENV
    done
    for name in postgres mysql_root rabbitmq grafana_admin; do
        printf 'pw-%s-7Hd82kQ\n' "$name" >"$WORK/secrets/$name"
    done
    cat >>"$dir/300" <<ENV
POSTGRES_PASSWORD_FILE=$WORK/secrets/postgres
MYSQL_ROOT_PASSWORD_FILE=$WORK/secrets/mysql_root
RABBITMQ_DEFAULT_PASS_FILE=$WORK/secrets/rabbitmq
GF_SECURITY_ADMIN_PASSWORD__FILE=$WORK/secrets/grafana_admin
SMTP_PASSWORD=smtp-Zr81nQ4w
ADMIN_PASSWORD=admin-Lp02xV7s
LDAP_BIND_PASSWORD=ldap-Tq55mC9e
MINIO_ROOT_PASSWORD=minio-Wd38hJ1k
SENTRY_DSN=https://8f2c1d9e4b7a@o450123.ingest.sentry.io/5512345
AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
JWT_SECRET=jwt-9b1f6e3a7c2d8e4f
ENV
    local n
    n=$(wc -l <"$dir/300")
    [ "$n" = 300 ] || { echo "bench startup: the 300-variable environment has $n" >&2; exit 1; }
}

# in_env ENV CMD...: runs CMD with exactly the variables of $WORK/env/ENV (nothing inherited),
# in $WORK (valgrind hands its own PWD to the program: the same in every column).
in_env() {
    local vars=()
    mapfile -t vars <"$WORK/env/$1"
    shift
    (cd "$WORK" && env -i "${vars[@]}" "$@")
}

# ir ENV CMD...: median over IR_RUNS runs of callgrind's total instruction count (Ir) of one
# run of CMD in ENV. The count is exact for a run; runs differ by a few hundred (randomized
# hashing, addresses). Under valgrind the program also sees LD_PRELOAD, LD_LIBRARY_PATH,
# GLIBCPP_FORCE_NEW, GLIBCXX_FORCE_NEW and PWD, in every column alike.
ir() {
    local env=$1 counts=() status VALGRIND
    VALGRIND=$(command -v valgrind)
    shift
    for _ in $(seq "$IR_RUNS"); do
        status=0
        in_env "$env" "$VALGRIND" --tool=callgrind --callgrind-out-file=/dev/null \
            --log-file="$WORK/callgrind.log" "$@" >/dev/null 2>&1 || status=$?
        if [ "$status" != 0 ]; then
            echo "bench startup: this command must succeed under valgrind, but exited $status (env $env):" >&2
            printf '  %q' "$@" >&2
            echo >&2
            exit 1
        fi
        counts+=("$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$WORK/callgrind.log")")
    done
    printf '%s\n' "${counts[@]}" | sort -n | sed -n "$(((IR_RUNS + 1) / 2))p"
}

# faults ENV CMD...: "MINOR_FAULTS PEAK_KIB", medians over FAULT_RUNS runs of CMD in ENV
# (/usr/bin/time's %R and %M: the child's own rusage).
faults() {
    local env=$1
    shift
    for _ in $(seq "$FAULT_RUNS"); do
        in_env "$env" /usr/bin/time -o "$WORK/time.out" -f '%R %M' "$@" >/dev/null 2>&1 ||
            { echo "bench startup: failed under /usr/bin/time: $*" >&2; exit 1; }
        cat "$WORK/time.out"
    done | python3 -c '
import statistics, sys
rows = [list(map(int, line.split())) for line in sys.stdin if line.strip()]
print("%d %d" % (statistics.median_low(r[0] for r in rows), statistics.median_low(r[1] for r in rows)))'
}

# measure CMD...: "IR_EMPTY IR_9 IR_300 FAULTS_EMPTY KIB_EMPTY FAULTS_300 KIB_300".
measure() {
    echo "$(ir empty "$@") $(ir 9 "$@") $(ir 300 "$@") $(faults empty "$@") $(faults 300 "$@")"
}

startup_ir_header() {
    local h="| check: one run (callgrind Ir)        | Ir empty  | Ir 9 vars | Ir 300 vars | 300/empty | minor faults empty/300 | peak KiB empty/300 |"
    local s="|---------------------------------------|-----------|-----------|-------------|-----------|------------------------|--------------------|"
    if [ -n "${BASELINE_PROBE:-}" ]; then
        h+=" base Ir empty | base Ir 9 vars | base Ir 300 vars | base 300/empty | base faults empty/300 | Ir 300 probe/base |"
        s+="---------------|----------------|------------------|----------------|-----------------------|-------------------|"
    fi
    echo "$h"
    echo "$s"
}

# ir_print NAME "PROBE_FIGURES" ["BASE_FIGURES"]: one row of the instruction table.
ir_print() {
    python3 - "$@" <<'PY'
import sys
name, new = sys.argv[1], list(map(int, sys.argv[2].split()))
def cols(f):
    return ["%9s" % f"{f[0]:,}", "%9s" % f"{f[1]:,}", "%11s" % f"{f[2]:,}",
            "%8.2fx" % (f[2] / f[0]), "%22s" % f"{f[3]} / {f[5]}", "%18s" % f"{f[4]} / {f[6]}"]
row = ["%-37s" % name] + cols(new)
if len(sys.argv) > 3 and sys.argv[3]:
    base = list(map(int, sys.argv[3].split()))
    row += ["%13s" % f"{base[0]:,}", "%14s" % f"{base[1]:,}", "%16s" % f"{base[2]:,}",
            "%13.2fx" % (base[2] / base[0]), "%21s" % f"{base[3]} / {base[5]}",
            "%16.2fx" % (new[2] / base[2])]
print("| " + " | ".join(row) + " |")
PY
}

# startup_row NAME ARGS...: probe ARGS (and BASELINE_PROBE ARGS) in the three environments.
startup_row() {
    local name=$1 new base=
    shift
    new=$(measure "$PROBE" "$@")
    [ -n "${BASELINE_PROBE:-}" ] && base=$(measure "$BASELINE_PROBE" "$@")
    ir_print "$name" "$new" "$base"
}

# startup_ref_row NAME CMD...: a reference program (C floor, microcheck) in the same table.
startup_ref_row() {
    local name=$1
    shift
    ir_print "$name" "$(measure "$@")"
}

startup_paired_header() {
    echo "| paired wall clock (A B B A, medians)                | env      | probe ms | other ms | ratio  | pair ratio |"
    echo "|-----------------------------------------------------|----------|----------|----------|--------|------------|"
}

# paired_row NAME ENV PROBE_CMD -- OTHER_CMD: medians of RUNS alternating runs of both in ENV,
# the ratio of the medians and the median of the per-round ratios.
paired_row() {
    local name=$1 env=$2 a=() out
    shift 2
    while [ "$1" != "--" ]; do a+=("$1"); shift; done
    shift
    must_succeed in_env "$env" "${a[@]}"
    must_succeed in_env "$env" "$@"
    out=$(in_env "$env" "$PAIRED" "$RUNS" 20 -- "${a[@]}" -- "$@") ||
        { echo "bench startup: paired run failed: $name" >&2; exit 1; }
    python3 -c 'import sys; n,e,p,b,r=sys.argv[1:]; print("| %-51s | %-8s | %8.3f | %8.3f | %5.2fx | %9.2fx |" % (n,e,float(p),float(b),float(p)/float(b),float(r)))' \
        "$name" "$env vars" $out
}

# n_targets N: N redis:// targets on 127.0.0.1 (nothing listens on port 1), each with its own
# password, for `probe check` under PROBE_DRY_RUN=1 (parsed and validated, nothing probed).
n_targets() {
    local i
    for i in $(seq "$1"); do printf 'redis://:pw-%06d@127.0.0.1:1\n' "$i"; done
}

bench_startup() {
    startup_envs
    local port www="$WORK/startup-www" heartbeat="$WORK/startup-heartbeat" worker
    mkdir -p "$www"
    echo '{"status":"ok"}' >"$www/health"
    touch "$heartbeat"
    port=$(free_port)
    busybox httpd -f -p "127.0.0.1:$port" -h "$www" &
    local httpd=$!
    wait_port "$port"
    local name="probe-startup-worker-$$"
    ln -sf "$(command -v sleep)" "$WORK/$name"
    "$WORK/$name" 3600 &
    worker=$!
    redis_start
    mysql_start
    local pg=
    postgres_installed && { postgres_start; pg=1; }

    echo
    echo "Start-up by environment: empty (env -i), 9 variables (a Docker image), 300 (the same"
    echo "plus Kubernetes service links for 40 services and secrets probe does not read)."
    echo "Ir: callgrind's instruction total, median of $IR_RUNS; faults and peak RSS: medians of $FAULT_RUNS."
    [ -n "${BASELINE_PROBE:-}" ] && echo "base: $BASELINE_PROBE ($(stat -c %s "$BASELINE_PROBE") bytes)"
    echo
    startup_ir_header
    startup_row "tcp 127.0.0.1" tcp "127.0.0.1:$port"
    startup_row "http GET /health" http "http://127.0.0.1:$port/health"
    if [ -n "$pg" ]; then
        startup_row "postgres (up, no password)" postgres "postgres://app@127.0.0.1:$PG_PORT/app" -q
    fi
    startup_row "redis PING (password)" redis "redis://:bench-pass@127.0.0.1:$REDIS_PORT"
    startup_row "mysql ping (password, logged in)" \
        mysql "mysql://bench:bench-pass@127.0.0.1:$MYSQL_PORT?ssl-mode=DISABLED"
    # A heartbeat the whole row can count on: the rows before may take minutes.
    startup_row "file --max-age 1h" file "$heartbeat" --max-age 1h
    startup_row "process NAME" process "$name"
    startup_ref_row "floor: static C connect (tcp)" "$FLOOR/tcp" 127.0.0.1 "$port"
    startup_ref_row "floor: static C GET (http)" "$FLOOR/http" 127.0.0.1 "$port" /health
    if [ -x "${MICROCHECK_DIR:-/nonexistent}/portcheck" ]; then
        startup_ref_row "microcheck portcheck" "$MICROCHECK_DIR/portcheck" --port "$port"
    fi
    if [ -x "${MICROCHECK_DIR:-/nonexistent}/httpcheck" ]; then
        startup_ref_row "microcheck httpcheck" "$MICROCHECK_DIR/httpcheck" "http://127.0.0.1:$port/health"
    fi

    echo
    startup_paired_header
    local env
    for env in 9 300; do
        paired_row "tcp vs floor (static C connect)" "$env" \
            "$PROBE" tcp "127.0.0.1:$port" -- "$FLOOR/tcp" 127.0.0.1 "$port"
        [ -x "${MICROCHECK_DIR:-/nonexistent}/portcheck" ] && paired_row "tcp vs microcheck portcheck" "$env" \
            "$PROBE" tcp "127.0.0.1:$port" -- "$MICROCHECK_DIR/portcheck" --port "$port"
        paired_row "http vs floor (static C GET)" "$env" \
            "$PROBE" http "http://127.0.0.1:$port/health" -- "$FLOOR/http" 127.0.0.1 "$port" /health
        [ -x "${MICROCHECK_DIR:-/nonexistent}/httpcheck" ] && paired_row "http vs microcheck httpcheck" "$env" \
            "$PROBE" http "http://127.0.0.1:$port/health" -- "$MICROCHECK_DIR/httpcheck" "http://127.0.0.1:$port/health"
        paired_row "mysql ping (password) vs mysqladmin ping" "$env" \
            "$PROBE" mysql "mysql://bench:bench-pass@127.0.0.1:$MYSQL_PORT?ssl-mode=DISABLED" -- \
            "$(command -v mysqladmin)" --no-defaults -h 127.0.0.1 -P "$MYSQL_PORT" -u bench -pbench-pass --skip-ssl ping
        if [ -n "${BASELINE_PROBE:-}" ]; then
            paired_row "tcp: probe vs base" "$env" \
                "$PROBE" tcp "127.0.0.1:$port" -- "$BASELINE_PROBE" tcp "127.0.0.1:$port"
            paired_row "http: probe vs base" "$env" \
                "$PROBE" http "http://127.0.0.1:$port/health" -- "$BASELINE_PROBE" http "http://127.0.0.1:$port/health"
        fi
    done
    [ -x "${MICROCHECK_DIR:-/nonexistent}/portcheck" ] ||
        echo "(no microcheck rows: set MICROCHECK_DIR to a directory holding its portcheck and httpcheck)"

    echo
    echo "| probe check, N redis:// targets with passwords, PROBE_DRY_RUN=1, 9 vars | probe ms | base ms | probe KiB |"
    echo "|----------------------------------------------------------------------------|----------|---------|-----------|"
    local n targets=() t b kib out
    for n in $TARGETS; do
        mapfile -t targets < <(n_targets "$n")
        # Paired with the baseline when there is one (A B B A), else the probe alone.
        local cmp=()
        [ -n "${BASELINE_PROBE:-}" ] && cmp=(-- "$BASELINE_PROBE" check "${targets[@]}")
        out=$(in_env 9 env PROBE_DRY_RUN=1 "$PAIRED" 3 1 -- "$PROBE" check "${targets[@]}" "${cmp[@]}") ||
            { echo "bench startup: probe check with $n targets failed" >&2; exit 1; }
        read -r t b _ <<<"$out"
        kib=$(in_env 9 env PROBE_DRY_RUN=1 /usr/bin/time -f '%M' "$PROBE" check "${targets[@]}" 2>&1 >/dev/null | tail -1)
        python3 -c 'import sys; n,t,b,k=sys.argv[1:]; print("| %-74s | %8.1f | %7s | %9s |" % ("start-up with %s targets (median of 3)" % f"{int(n):,}", float(t), "%.1f" % float(b) if b else "", k))' \
            "$n" "$t" "$b" "$kib"
    done

    redis_stop
    mysql_stop
    [ -n "$pg" ] && postgres_stop
    kill "$httpd" "$worker" 2>/dev/null || true
    wait "$httpd" "$worker" 2>/dev/null || true
    return 0
}
