#!/usr/bin/env bash
# End-to-end tests of probe on a real Docker engine: the scratch image, HEALTHCHECK
# transitions, compose gating, probe as PID 1, PostgreSQL/Redis in containers, migrate-then-exec
# across containers, and the examples/ files.
#
#   bash tests/docker/e2e.sh [STEP...]      steps: image health compose pid1 serve services migrate examples
#                                           (default: all, in that order)
#
# Environment:
#   PROBE_BIN=path            use this static binary instead of `cargo build --release --locked`
#   PROBE_E2E_REBUILD_DEBIAN=1  rebuild the cached Debian image (see debian-image.sh)
#   PROBE_E2E_REMOVE_DEBIAN=1   remove the cached Debian image at the end too
#
# It fails (never skips) when the engine does not answer. Every container, network, volume and
# image it creates is labelled probe-e2e.run=<run id> and removed at exit, even on failure;
# only the Debian base image (probe-e2e-debian:<hash>) is kept as a cache between runs.
# The last lines are a summary (image size, start-to-healthy time, `docker stop` time) and
# "N passed, N failed".
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ALL_STEPS=(image health compose pid1 serve services migrate examples)
STEPS=("$@")
((${#STEPS[@]})) || STEPS=("${ALL_STEPS[@]}")

SIZE_LIMIT=4000000 # "fail above 4 MB"
NET="$PREFIX-net"
IMG_PROBE="$PREFIX-probe:e2e" # Dockerfile.scratch's final stage: only /probe
IMG_BB="$PREFIX-bb:e2e"       # the same plus a static busybox as toy server and app
IMG_DEB=""                    # Debian + PostgreSQL + Redis + /probe (built when needed)
BASE_READY=""

# ---------------------------------------------------------------------------------------
# Preconditions

preflight() {
    if ! command -v docker >/dev/null; then
        fail "preflight: the docker client is not installed"
        return 1
    fi
    if ! timeout 20 docker version --format '{{.Server.Version}}' >"$WORK/engine" 2>&1; then
        fail "preflight: the Docker engine does not answer: $(tail -n 1 "$WORK/engine")"
        return 1
    fi
    log "docker engine $(cat "$WORK/engine"), run id $RUN_ID"
    local need=()
    [[ -x /bin/busybox ]] && file_is_static /bin/busybox || need+=(busybox-static)
    command -v python3 >/dev/null || need+=(python3)
    if ((${#need[@]})); then
        log "installing ${need[*]}"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$WORK/apt.log" 2>&1 ||
            { tail -n 5 "$WORK/apt.log" >&2; fail "preflight: could not install ${need[*]}"; return 1; }
    fi
    COMPOSES=()
    docker-compose version >/dev/null 2>&1 && COMPOSES+=("docker-compose")
    docker compose version >/dev/null 2>&1 && COMPOSES+=("docker compose")
    log "compose: ${COMPOSES[*]:-none}"
    return 0
}

# A 64-bit ELF that needs no loader (no PT_INTERP): what runs in FROM scratch.
file_is_static() {
    python3 - "$1" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
if data[:4] != b"\x7fELF" or data[4] != 2:
    sys.exit(1)
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
sys.exit(3 in types)
PY
}

probe_binary() {
    if [[ -n ${PROBE_BIN:-} ]]; then
        PROBE="$PROBE_BIN"
    else
        log "cargo build --release --locked"
        if ! (cd "$REPO" && cargo build --release --locked) >"$WORK/cargo.log" 2>&1; then
            tail -n 20 "$WORK/cargo.log" >&2
            fail "image: cargo build --release --locked"
            return 1
        fi
        PROBE="$("$REPO/scripts/target-dir")/x86_64-unknown-linux-musl/release/probe"
    fi
    [[ -x $PROBE ]] || { fail "image: no executable probe binary at $PROBE"; return 1; }
    check "image: $PROBE is statically linked" file_is_static "$PROBE"
}

# The final stage of Dockerfile.scratch, building from a local binary instead of the builder
# stage (no registry here to pull the Rust image from): every line from `FROM scratch AS probe`
# on, with its `COPY --from=build ...` line turned into a COPY from this context.
scratch_final_stage() {
    awk '
        /^FROM[ \t]+scratch[ \t]+AS[ \t]+probe([ \t]|$)/ { on = 1 }
        on && /^COPY[ \t]+--from=build[ \t]/ { print "COPY probe /probe"; copied++; next }
        on { print }
        END { if (copied != 1) exit 1 }
    ' "$REPO/Dockerfile.scratch"
}

# ---------------------------------------------------------------------------------------
# Images shared by the steps

base_images() {
    [[ -n $BASE_READY ]] && return "$BASE_READY"
    BASE_READY=1
    probe_binary || return 1
    local ctx="$WORK/ctx-probe"
    mkdir -p "$ctx"
    cp "$PROBE" "$ctx/probe"
    if ! scratch_final_stage >"$ctx/Dockerfile"; then
        fail "image: Dockerfile.scratch has no 'FROM scratch' stage with one 'COPY --from=build' line"
        return 1
    fi
    if grep -v '^[[:space:]]*#' "$ctx/Dockerfile" | grep -q -- '--from='; then
        fail "image: the final stage of Dockerfile.scratch copies from another stage besides the build"
        return 1
    fi
    build "$IMG_PROBE" "$ctx" || { fail "image: build the FROM scratch image from Dockerfile.scratch's final stage"; return 1; }

    local bb="$WORK/ctx-bb"
    mkdir -p "$bb/www"
    cp /bin/busybox "$bb/busybox"
    printf '{"status":"ok"}\n' >"$bb/www/health"
    cat >"$bb/Dockerfile" <<EOF
FROM $IMG_PROBE
COPY busybox /bin/busybox
COPY www /www
USER 0
EOF
    build "$IMG_BB" "$bb" || { fail "image: build the scratch + busybox test image"; return 1; }
    docker network create --internal --label "$LABEL" "$NET" >/dev/null ||
        { fail "image: create the test network"; return 1; }
    BASE_READY=0
}

DEBIAN_READY=""
debian_image() {
    [[ -n $DEBIAN_READY ]] && return "$DEBIAN_READY"
    DEBIAN_READY=1
    local t0 t1 base
    t0=$(now)
    base=$("$HERE/debian-image.sh") || { fail "debian image: debootstrap + docker import"; return 1; }
    t1=$(now)
    DEBIAN_IMAGE=$base # removed by cleanup when PROBE_E2E_REMOVE_DEBIAN=1
    SUMMARY[debian]="$base: $(($(docker image inspect -f '{{.Size}}' "$base") / 1000000)) MB, ready in $(elapsed "$t0" "$t1")s (cached after the first build)"
    local ctx="$WORK/ctx-deb"
    mkdir -p "$ctx"
    cp "$PROBE" "$ctx/probe"
    cp "$HERE/scripts/"* "$ctx/"
    cat >"$ctx/Dockerfile" <<EOF
FROM $base
COPY probe /probe
COPY pg-start e2e-migrate e2e-app /usr/local/bin/
EOF
    build "$PREFIX-deb:e2e" "$ctx" || { fail "debian image: add probe"; return 1; }
    IMG_DEB="$PREFIX-deb:e2e"
    DEBIAN_READY=0
}

# ---------------------------------------------------------------------------------------
# 1. the FROM scratch image

step_image() {
    base_images || return 1
    local size files
    size=$(docker image inspect -f '{{.Size}}' "$IMG_PROBE")
    SUMMARY[size]="$size bytes ($(awk -v s="$size" 'BEGIN { printf "%.2f MB, %.2f MiB", s / 1e6, s / 1048576 }'))"
    if ((size <= SIZE_LIMIT)); then
        pass "image: FROM scratch image is ${SUMMARY[size]} (limit 4 MB)"
    else
        fail "image: FROM scratch image is ${SUMMARY[size]}, above 4 MB"
    fi
    files=$(image_files "$IMG_PROBE")
    if [[ $files == probe ]]; then
        pass "image: its only file is /probe"
    else
        fail "image: files besides /probe: $(tr '\n' ' ' <<<"$files")"
    fi
    local out rc
    out=$(docker run --rm --label "$LABEL" "$IMG_PROBE" --help 2>&1)
    rc=$?
    if ((rc == 0)) && grep -q 'Usage: probe' <<<"$out"; then
        pass "image: ENTRYPOINT runs /probe (--help)"
    else
        fail "image: docker run IMAGE --help: exit $rc: $(head -n 2 <<<"$out")"
    fi
    out=$(docker run --rm --label "$LABEL" "$IMG_PROBE" tcp 127.0.0.1:1 2>&1)
    rc=$?
    if ((rc == 1)) && [[ $(wc -l <<<"$out") == 1 ]]; then
        pass "image: a failing check exits 1 with one line: $out"
    else
        fail "image: tcp to a closed port: exit $rc (want 1): $out"
    fi
}

# The files in all layers of IMAGE, one per line.
image_files() {
    local d="$WORK/save"
    rm -rf "$d" && mkdir -p "$d"
    docker save "$1" | tar -x -C "$d"
    python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Layers"]))' "$d/manifest.json" |
        while read -r layer; do tar -tf "$d/$layer"; done | sed 's#^\./##; /^$/d; /\/$/d' | sort
}

# ---------------------------------------------------------------------------------------
# 2. HEALTHCHECK transitions

# RFC 3339 timestamps (nanoseconds, any offset) -> seconds between them
ts_diff() {
    python3 - "$1" "$2" <<'PY'
import datetime, re, sys
def ts(s):
    s = s.strip().replace("Z", "+00:00")
    s = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "000000")[:6], s)
    return datetime.datetime.fromisoformat(s).timestamp()
print("%.2f" % (ts(sys.argv[2]) - ts(sys.argv[1])))
PY
}

# health_entry CONTAINER first-healthy|last -> "EXITCODE<TAB>END<TAB>OUTPUT(JSON string)"
health_entry() {
    docker inspect "$1" | python3 -c '
import json, sys
state = json.load(sys.stdin)[0]["State"]
log = (state.get("Health") or {}).get("Log") or []
if sys.argv[1] == "first-healthy":
    log = [e for e in log if e["ExitCode"] == 0][:1]
if log:
    e = log[-1]
    print("%d\t%s\t%s" % (e["ExitCode"], e["End"], json.dumps(e["Output"])))
' "$2"
}

# health_case KIND DOCKERFILE_BODY BREAK_CMD REASON_REGEX
# health_image KIND DOCKERFILE_BODY: the test image of one kind of check
health_image() {
    local kind=$1 body=$2 ctx="$WORK/health-$1"
    mkdir -p "$ctx"
    printf 'FROM %s\n%s\n' "$IMG_BB" "$body" >"$ctx/Dockerfile"
    build "$PREFIX-health-$kind:e2e" "$ctx" || { fail "health/$kind: build"; return 1; }
}

# health_run KIND: starts its container; right after the start its status must be `starting`
health_run() {
    local kind=$1 first
    docker run -d --label "$LABEL" --name "$PREFIX-health-$kind" --network "$NET" "$PREFIX-health-$kind:e2e" >/dev/null ||
        { fail "health/$kind: docker run"; return 1; }
    first=$(health "$PREFIX-health-$kind")
    if [[ $first == starting ]]; then pass "health/$kind: starts as 'starting'"; else fail "health/$kind: first status '$first', want 'starting'"; fi
}

# await_health STATUS SECONDS KIND...: polls the kinds' containers together until each shows
# STATUS; records the seconds each took (from docker's StartedAt to the first log entry with
# that result when STATUS is healthy, else from the call) in AWAITED[kind]. Returns the kinds
# that never got there in LATE.
declare -A AWAITED=()
await_health() {
    local want=$1 limit=$2 t0=$SECONDS start kind c status first
    shift 2
    start=$(now)
    local pending=("$@")
    LATE=()
    while ((${#pending[@]})); do
        local still=()
        for kind in "${pending[@]}"; do
            c="$PREFIX-health-$kind"
            status=$(health "$c")
            if [[ $status == "$want" ]]; then
                if [[ $want == healthy ]]; then
                    # caught within a poll of the change, so the entry is still in the 5-entry log
                    first=$(health_entry "$c" first-healthy)
                    AWAITED[$kind]=$(ts_diff "$(inspect "$c" '{{.State.StartedAt}}')" "$(cut -f2 <<<"$first")")
                    AWAITED[${kind}_out]=$(cut -f3- <<<"$first")
                else
                    AWAITED[$kind]=$(elapsed "$start" "$(now)")
                fi
            else
                still+=("$kind")
            fi
        done
        pending=("${still[@]}")
        if ((${#pending[@]} && SECONDS - t0 >= limit)); then
            LATE=("${pending[@]}")
            return 1
        fi
        ((${#pending[@]})) && sleep 0.1
    done
    return 0
}

# reason_check KIND REGEX: the last health log entry is probe's one-line reason, exit code 1
reason_check() {
    local kind=$1 reason_re=$2 c="$PREFIX-health-$1" last code output lines bytes
    last=$(health_entry "$c" last)
    code=$(cut -f1 <<<"$last")
    output=$(cut -f3- <<<"$last" | python3 -c 'import json, sys; sys.stdout.write(json.loads(sys.stdin.read()))')
    lines=$(printf '%s' "$output" | awk 'END { print NR }')
    bytes=$(printf '%s' "$output" | wc -c)
    if [[ $code == 1 ]]; then pass "health/$kind: failing check exit code 1"; else fail "health/$kind: failing check exit code $code, want 1"; fi
    if ((bytes > 0 && bytes < 4096 && lines == 1)) && ! grep -qi 'exceeded timeout' <<<"$output" &&
        grep -Eqi -- "$reason_re" <<<"$output"; then
        pass "health/$kind: health log shows probe's reason in one line, $bytes bytes: $output"
    else
        fail "health/$kind: health log output ($lines lines, $bytes bytes, want one line matching /$reason_re/): $output"
    fi
}

step_health() {
    base_images || return 1
    local hc='HEALTHCHECK --interval=1s --timeout=5s --retries=2 CMD' kind
    local kinds=(http tcp file process)
    declare -A breaks=() reasons=()
    # http: a JSON status endpoint, broken by turning the status to "down"
    health_image http "$hc [\"/probe\", \"http\", \"http://localhost:8080/health\", \"--expect-json\", \"/status=ok\", \"--timeout\", \"2s\"]
ENTRYPOINT [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]" || return 1
    breaks[http]='echo "{\"status\":\"down\"}" >/www/health'
    reasons[http]='status|down'
    # tcp: a listener, broken by killing it
    health_image tcp "$hc [\"/probe\", \"tcp\", \"localhost:9000\", \"--timeout\", \"2s\"]
ENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox mkdir -p /tmp; /bin/busybox httpd -f -p 9000 -h /www & echo \$! >/tmp/server.pid; exec /bin/busybox sleep 100000\"]" || return 1
    breaks[tcp]='kill $(cat /tmp/server.pid)'
    reasons[tcp]='refused'
    # file: a worker's heartbeat file, broken by the worker no longer touching it
    health_image file "$hc [\"/probe\", \"file\", \"/tmp/heartbeat\", \"--max-age\", \"3s\"]
ENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox mkdir -p /tmp; while [ ! -e /tmp/stop ]; do /bin/busybox touch /tmp/heartbeat; /bin/busybox sleep 1; done; exec /bin/busybox sleep 100000\"]" || return 1
    breaks[file]='touch /tmp/stop'
    reasons[file]='stale|old|ago|age'
    # process: a worker process, broken by killing it; its parent (PID 1, a plain sleep) never
    # reaps it, so it stays behind as a zombie, which must not count.
    health_image process "$hc [\"/probe\", \"process\", \"--cmdline\", \"sleep 100001\"]
ENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox mkdir -p /tmp; /bin/busybox sleep 100001 & echo \$! >/tmp/worker.pid; exec /bin/busybox sleep 100000\"]" || return 1
    breaks[process]='kill $(cat /tmp/worker.pid)'
    reasons[process]='no matching|no process|not found|none'

    # All images first, then the containers together, so that builds do not slow the checks.
    for kind in "${kinds[@]}"; do health_run "$kind" || return 1; done
    await_health healthy 30 "${kinds[@]}"
    local ok=()
    for kind in "${kinds[@]}"; do
        if [[ " ${LATE[*]} " == *" $kind "* ]]; then
            fail "health/$kind: not healthy after 30s (status '$(health "$PREFIX-health-$kind")', last log: $(health_entry "$PREFIX-health-$kind" last | cut -f3-))"
        else
            SUMMARY[healthy_$kind]=${AWAITED[$kind]}
            pass "health/$kind: starting -> healthy ${AWAITED[$kind]}s after start: ${AWAITED[${kind}_out]}"
            ok+=("$kind")
        fi
    done
    ((${#ok[@]})) || return 1
    local broken=()
    for kind in "${ok[@]}"; do
        if docker exec "$PREFIX-health-$kind" /bin/busybox sh -c "${breaks[$kind]}"; then
            broken+=("$kind")
        else
            fail "health/$kind: break the service (${breaks[$kind]})"
        fi
    done
    ((${#broken[@]})) || return 1
    await_health unhealthy 30 "${broken[@]}"
    for kind in "${broken[@]}"; do
        if [[ " ${LATE[*]} " == *" $kind "* ]]; then
            fail "health/$kind: not unhealthy 30s after the break (status '$(health "$PREFIX-health-$kind")')"
        else
            SUMMARY[unhealthy_$kind]=${AWAITED[$kind]}
            pass "health/$kind: healthy -> unhealthy ${AWAITED[$kind]}s after the break"
            reason_check "$kind" "${reasons[$kind]}"
        fi
    done
}

# ---------------------------------------------------------------------------------------
# 3. compose gating

step_compose() {
    base_images || return 1
    if ((${#COMPOSES[@]} == 0)); then
        fail "compose: neither docker-compose nor docker compose is installed"
        return 1
    fi
    local impl n=0
    for impl in "${COMPOSES[@]}"; do
        n=$((n + 1))
        compose_gating "$impl" "${PREFIX//-/}gate$n"
    done
}

compose_gating() {
    local impl=$1 dir="$WORK/$2" what="compose ($1)"
    COMPOSE=$impl
    mkdir -p "$dir"
    register_project "$2"
    # web answers only 3s after it starts; client is a one-shot check from the scratch image
    # (no retries), so it passes only if compose held it back until web was healthy.
    cat >"$dir/docker-compose.yml" <<'EOF'
services:
  web:
    image: ${E2E_IMG_BB}
    entrypoint: ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 3 && exec /bin/busybox httpd -f -p 8080 -h /www"]
    environment:
      PORT: "8080"
    healthcheck:
      # $$ is compose's escape: probe receives ${PORT:-80} and expands it itself.
      test: ["CMD", "/probe", "http", "http://localhost:$${PORT:-80}/health", "--expect-json", "/status=ok"]
      interval: 1s
      timeout: 3s
      retries: 30
    labels:
      probe-e2e.run: ${E2E_RUN}
  client:
    image: ${E2E_IMG_PROBE}
    command: ["check", "http://web:8080/health", "tcp://web:8080"]
    depends_on:
      web:
        condition: service_healthy
    labels:
      probe-e2e.run: ${E2E_RUN}
networks:
  default:
    internal: true
    labels:
      probe-e2e.run: ${E2E_RUN}
EOF
    export E2E_IMG_BB=$IMG_BB E2E_IMG_PROBE=$IMG_PROBE E2E_RUN=$RUN_ID
    local t0 t1
    t0=$(now)
    if ! compose "$dir" up -d >"$WORK/compose.log" 2>&1; then
        tail -n 10 "$WORK/compose.log" >&2
        fail "$what: up -d"
        compose "$dir" down -v >/dev/null 2>&1
        return 1
    fi
    t1=$(now)
    local web client
    web=$(compose "$dir" ps -q web)
    client=$(compose "$dir" ps -q client)
    if [[ -z $client ]]; then
        fail "$what: no client container"
    elif ! wait_for 20 is_exited "$client"; then
        fail "$what: client did not finish within 20s"
    else
        local code out gap
        code=$(inspect "$client" '{{.State.ExitCode}}')
        out=$(docker logs "$client" 2>&1 | tr '\n' ' ')
        if [[ $code == 0 ]]; then
            pass "$what: scratch client reached service 'web' by name (embedded DNS): $out"
        else
            fail "$what: client exit $code: $out"
        fi
        gap=$(ts_diff "$(inspect "$web" '{{.State.StartedAt}}')" "$(inspect "$client" '{{.State.StartedAt}}')")
        if awk -v g="$gap" 'BEGIN { exit !(g >= 3) }'; then
            pass "$what: client started ${gap}s after web (web serves after 3s): depends_on service_healthy held it"
        else
            fail "$what: client started ${gap}s after web, before web could be healthy"
        fi
        local web_health
        web_health=$(health "$web")
        if [[ $web_health == healthy ]]; then
            pass "$what: web's own health is 'healthy' (docker inspect)"
        else
            fail "$what: web's health is '$web_health' after compose up (want healthy)"
        fi
        SUMMARY[compose_${impl// /_}]=$(elapsed "$t0" "$t1")
    fi
    compose "$dir" down -v --remove-orphans >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------
# 4. probe wait-for as PID 1

step_pid1() {
    base_images || return 1
    local ctx="$WORK/ctx-pid1" img="$PREFIX-pid1:e2e"
    mkdir -p "$ctx"
    cat >"$ctx/app.sh" <<'EOF'
#!/bin/busybox sh
echo "app: pid $$"
trap 'echo "app: got SIGTERM"; exit 42' TERM
while :; do /bin/busybox sleep 1 & wait $!; done
EOF
    chmod +x "$ctx/app.sh"
    cat >"$ctx/Dockerfile" <<EOF
FROM $IMG_BB
COPY app.sh /app.sh
ENTRYPOINT ["/probe", "wait-for", "\${WAIT_TARGET}", "--timeout", "60s", "--", "/app.sh"]
EOF
    build "$img" "$ctx" || { fail "pid1: build"; return 1; }

    # a) stopped while waiting for something that never comes
    local c="$PREFIX-pid1-wait" t0 t1 code
    docker run -d --label "$LABEL" --name "$c" --network "$NET" -e WAIT_TARGET=tcp://127.0.0.1:9 "$img" >/dev/null ||
        { fail "pid1: docker run"; return 1; }
    sleep 2
    if ! is_running "$c"; then
        fail "pid1: wait-for is not waiting (exit $(inspect "$c" '{{.State.ExitCode}}')): $(docker logs "$c" 2>&1 | tail -n 3 | tr '\n' ' ')"
    else
        t0=$(now)
        docker stop "$c" >/dev/null
        t1=$(now)
        SUMMARY[stop_waiting]=$(elapsed "$t0" "$t1")
        code=$(inspect "$c" '{{.State.ExitCode}}')
        if [[ $code == 143 ]] && awk -v s="${SUMMARY[stop_waiting]}" 'BEGIN { exit !(s < 3) }'; then
            pass "pid1: docker stop while waiting returned in ${SUMMARY[stop_waiting]}s, exit 143"
        else
            fail "pid1: docker stop while waiting took ${SUMMARY[stop_waiting]}s, exit $code (want < 3s, 143)"
        fi
        local seen=0
        logs_contain "$c" 'app: pid' || seen=$?
        case $seen in
            0) fail "pid1: the app ran after an interrupted wait" ;;
            1) pass "pid1: the app never ran after the interrupted wait" ;;
            *) fail "pid1: cannot tell whether the app ran: its logs are unreadable" ;;
        esac
    fi

    # b) the dependency appears late (its name does not even resolve at first)
    c="$PREFIX-pid1-app"
    local srv="$PREFIX-pid1-late"
    docker run -d --label "$LABEL" --name "$c" --network "$NET" -e "WAIT_TARGET=tcp://$srv:8080" "$img" >/dev/null ||
        { fail "pid1: docker run"; return 1; }
    sleep 1.5
    docker run -d --label "$LABEL" --name "$srv" --network "$NET" --entrypoint /bin/busybox "$IMG_BB" httpd -f -p 8080 -h /www >/dev/null
    if ! wait_for 15 logs_contain "$c" 'app: pid'; then
        fail "pid1: the app did not start within 15s of the dependency: $(docker logs "$c" 2>&1 | tail -n 3 | tr '\n' ' ')"
        return 1
    fi
    if logs_contain "$c" 'app: pid 1$'; then
        pass "pid1: after the wait the app is PID 1 (probe exec'd it)"
    else
        fail "pid1: app is not PID 1: $(docker logs "$c" 2>&1 | grep 'app: pid')"
    fi
    t0=$(now)
    docker stop "$c" >/dev/null
    t1=$(now)
    SUMMARY[stop_app]=$(elapsed "$t0" "$t1")
    # When the app itself saw the signal (the rest of docker stop is the engine's teardown).
    local seen
    seen=$(docker logs -t "$c" 2>&1 | awk '/app: got SIGTERM/ { print $1; exit }')
    [[ -n $seen ]] && SUMMARY[term_app]=$(ts_diff "$(date -u -d "@$t0" +%Y-%m-%dT%H:%M:%S.%NZ)" "$seen")
    code=$(inspect "$c" '{{.State.ExitCode}}')
    if [[ $code == 42 ]] && logs_contain "$c" 'app: got SIGTERM'; then
        pass "pid1: the app received docker stop's SIGTERM itself (exit 42 from its trap) in ${SUMMARY[stop_app]}s"
    else
        fail "pid1: after docker stop: exit $code (want 42 from the app's trap), logs: $(docker logs "$c" 2>&1 | tail -n 3 | tr '\n' ' ')"
    fi
}

# ---------------------------------------------------------------------------------------
# 5. probe serve as PID 1: endpoints on the container's IP, HEALTHCHECK on 127.0.0.1, docker stop

# serve_get CONTAINER PATH: GET http://CONTAINER:8086/PATH from another container of the
# network (the kubelet's view: the container's own address, not localhost); "CODE BODY".
serve_get() {
    docker run --rm --label "$LABEL" --network "$NET" --entrypoint /bin/busybox "$IMG_BB" \
        sh -c "wget -q -S -O - 'http://$1:8086$2' 2>&1; echo" 2>/dev/null |
        awk '$1 == "HTTP/1.1" { code = $2; next } !/^ / && !/^wget: / { body = body $0 " " } END { print code, body }'
}
serve_code() { [[ $(serve_get "$1" "$2" | cut -d' ' -f1) == "$3" ]]; }
health_is() { [[ $(health "$1") == "$2" ]]; }

step_serve() {
    base_images || return 1
    local ctx="$WORK/ctx-serve" img="$PREFIX-serve:e2e"
    mkdir -p "$ctx"
    printf '%s\n' '#!/bin/busybox sh' \
        'echo "app: pid $$"' \
        "trap 'echo \"app: got SIGTERM\"; exit 42' TERM" \
        'while :; do /bin/busybox touch /heartbeat; /bin/busybox sleep 1 & wait $!; done' >"$ctx/app.sh"
    chmod +x "$ctx/app.sh"
    printf '%s\n' "FROM $IMG_BB" \
        'COPY app.sh /app.sh' \
        'HEALTHCHECK --interval=1s --timeout=3s --retries=2 CMD ["/probe", "http", "http://127.0.0.1:8086/readyz"]' \
        'ENTRYPOINT ["/probe", "serve", "--listen", ":8086", "--live", "file /heartbeat --max-age 10s", "--ready", "${READY_TARGET}", "--interval", "500ms", "--"]' \
        'CMD ["/app.sh"]' >"$ctx/Dockerfile"
    build "$img" "$ctx" || { fail "serve: build"; return 1; }

    local dep="$PREFIX-serve-dep" c="$PREFIX-serve-app" t0 t1 code reply
    docker run -d --label "$LABEL" --name "$dep" --network "$NET" --entrypoint /bin/busybox "$IMG_BB" httpd -f -p 8080 -h /www >/dev/null ||
        { fail "serve: start the dependency"; return 1; }
    docker run -d --label "$LABEL" --name "$c" --network "$NET" -e "READY_TARGET=http://$dep:8080/health" "$img" >/dev/null ||
        { fail "serve: docker run"; return 1; }
    t0=$(now)
    if wait_for 30 health_is "$c" healthy; then
        SUMMARY[serve_healthy]=$(elapsed "$t0" "$(now)")
        pass "serve: HEALTHCHECK probe http http://127.0.0.1:8086/readyz healthy after ${SUMMARY[serve_healthy]}s"
    else
        fail "serve: not healthy after 30s ($(health "$c")): $(docker logs "$c" 2>&1 | tail -n 3 | tr '\n' ' ')"
    fi
    reply=$(serve_get "$c" "/readyz?verbose")
    if [[ $reply == "200 "* && $reply == *"[+] healthy: http http://$dep:8080/health"* ]]; then
        pass "serve: /readyz?verbose answers 200 on the container's address: $reply"
    else
        fail "serve: /readyz?verbose from another container: $reply"
    fi
    local seen=0
    logs_contain "$c" 'app: pid 1$' || seen=$?
    if [[ $seen == 1 ]] && logs_contain "$c" 'app: pid'; then
        pass "serve: the app runs as probe's child, probe stays PID 1"
    else
        fail "serve: the app is PID 1 or did not start: $(docker logs "$c" 2>&1 | tail -n 3 | tr '\n' ' ')"
    fi
    # The dependency goes away: /readyz fails, /livez does not, the container turns unhealthy.
    docker rm -f "$dep" >/dev/null
    if wait_for 10 serve_code "$c" /readyz 503 && serve_code "$c" /livez 200; then
        pass "serve: dependency gone: /readyz 503, /livez still 200"
    else
        fail "serve: dependency gone: /readyz $(serve_get "$c" /readyz), /livez $(serve_get "$c" /livez)"
    fi
    if wait_for 15 health_is "$c" unhealthy; then
        pass "serve: the container turned unhealthy"
    else
        fail "serve: still $(health "$c") after the dependency went away"
    fi
    t0=$(now)
    docker stop "$c" >/dev/null
    t1=$(now)
    SUMMARY[serve_stop]=$(elapsed "$t0" "$t1")
    # When the app itself saw the signal (the rest of docker stop is the engine's teardown).
    seen=$(docker logs -t "$c" 2>&1 | awk '/app: got SIGTERM/ { print $1; exit }')
    [[ -n $seen ]] && SUMMARY[serve_term]=$(ts_diff "$(date -u -d "@$t0" +%Y-%m-%dT%H:%M:%S.%NZ)" "$seen")
    SUMMARY[serve_exit]=$(ts_diff "$(date -u -d "@$t0" +%Y-%m-%dT%H:%M:%S.%NZ)" "$(inspect "$c" '{{.State.FinishedAt}}')")
    code=$(inspect "$c" '{{.State.ExitCode}}')
    if [[ $code == 42 ]] && logs_contain "$c" 'app: got SIGTERM'; then
        pass "serve: docker stop reached the app through probe (exit 42 from its trap, the app's trap ran after ${SUMMARY[serve_term]:-?}s, probe exited after ${SUMMARY[serve_exit]:-?}s) in ${SUMMARY[serve_stop]}s"
    else
        fail "serve: after docker stop: exit $code (want 42 from the app's trap), logs: $(docker logs "$c" 2>&1 | tail -n 3 | tr '\n' ' ')"
    fi

    # --wait: a dependency that never comes; the app never starts.
    c="$PREFIX-serve-wait"
    docker run --label "$LABEL" --name "$c" --network "$NET" --entrypoint /probe "$img" \
        serve --listen :8086 --ready "tcp://$PREFIX-nowhere:5432" --wait --timeout 3s -- /app.sh >/dev/null 2>&1
    code=$(inspect "$c" '{{.State.ExitCode}}')
    seen=0
    logs_contain "$c" 'app: pid' || seen=$?
    if [[ $code == 1 && $seen == 1 ]]; then
        pass "serve: --wait for a dependency that never came: exit 1, the app never ran"
    else
        fail "serve: --wait that failed: exit $code, app ran: $([[ $seen == 0 ]] && echo yes || echo no)"
    fi
}

# ---------------------------------------------------------------------------------------
# 6. PostgreSQL and Redis in containers, checked by service name

SERVERS_YML='
  db:
    image: ${E2E_IMG_DEB}
    user: postgres
    entrypoint: ["/usr/local/bin/pg-start"]
    environment:
      POSTGRES_PASSWORD: e2e-pg-secret
      APP_PASSWORD: e2e-app-secret
    healthcheck:
      test: ["CMD", "/probe", "postgres"]
      interval: 1s
      timeout: 3s
      retries: 90
    labels:
      probe-e2e.run: ${E2E_RUN}'

step_services() {
    base_images || return 1
    debian_image || return 1
    COMPOSE=${COMPOSES[0]:-}
    [[ -n $COMPOSE ]] || { fail "services: no compose"; return 1; }
    local project="${PREFIX//-/}svc" dir
    dir="$WORK/$project"
    mkdir -p "$dir"
    register_project "$project"
    {
        echo 'services:'
        echo "$SERVERS_YML"
        cat <<'EOF'
  redis:
    image: ${E2E_IMG_DEB}
    user: redis
    entrypoint: ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--requirepass", "e2e-redis-secret", "--save", "", "--appendonly", "no", "--dir", "/tmp"]
    environment:
      REDIS_PASSWORD: e2e-redis-secret
    healthcheck:
      test: ["CMD", "/probe", "redis", "redis://:$${REDIS_PASSWORD}@localhost:6379"]
      interval: 1s
      timeout: 3s
      retries: 60
    labels:
      probe-e2e.run: ${E2E_RUN}
  app:
    image: ${E2E_IMG_PROBE}
    command: ["check", "postgres://app:e2e-app-secret@db:5432/app", "redis://:e2e-redis-secret@redis:6379"]
    depends_on:
      db:
        condition: service_healthy
      redis:
        condition: service_healthy
    labels:
      probe-e2e.run: ${E2E_RUN}
networks:
  default:
    internal: true
    labels:
      probe-e2e.run: ${E2E_RUN}
EOF
    } >"$dir/docker-compose.yml"
    export E2E_IMG_DEB=$IMG_DEB E2E_IMG_PROBE=$IMG_PROBE E2E_RUN=$RUN_ID
    local t0 t1
    t0=$(now)
    if ! compose "$dir" up -d >"$WORK/compose.log" 2>&1; then
        tail -n 10 "$WORK/compose.log" >&2
        fail "services: compose up (db and redis healthy by their probe healthchecks)"
        server_logs "$dir" db redis
        compose "$dir" down -v >/dev/null 2>&1
        return 1
    fi
    t1=$(now)
    SUMMARY[services]=$(elapsed "$t0" "$t1")
    # What the containers' own health says, not compose's exit code.
    local db_health redis_health
    db_health=$(health "$(compose "$dir" ps -q db)")
    redis_health=$(health "$(compose "$dir" ps -q redis)")
    if [[ $db_health == healthy && $redis_health == healthy ]]; then
        pass "services: PostgreSQL and Redis became healthy by [\"CMD\", \"/probe\", ...] healthchecks in ${SUMMARY[services]}s"
    else
        fail "services: after compose up, db is '$db_health' and redis is '$redis_health' (want healthy)"
    fi

    local app code
    app=$(compose "$dir" ps -q app)
    if wait_for 20 is_exited "$app" && [[ $(inspect "$app" '{{.State.ExitCode}}') == 0 ]]; then
        pass "services: probe check postgres:// redis:// from a scratch container by service name: $(docker logs "$app" 2>&1 | tr '\n' ' ')"
    else
        fail "services: probe check from the app container: exit $(inspect "$app" '{{.State.ExitCode}}'): $(docker logs "$app" 2>&1 | tr '\n' ' ')"
    fi

    local net="${project}_default"
    # on_net WHAT WANT_EXIT MATCH_REGEX MUST_NOT_CONTAIN(or '') probe-args...: probe on the project's network
    on_net() {
        local what=$1 want=$2 match=$3 nomatch=$4 out rc
        shift 4
        out=$(docker run --rm --label "$LABEL" --network "$net" "$IMG_PROBE" "$@" 2>&1)
        rc=$?
        if [[ $rc == "$want" ]] && grep -Eqi -- "$match" <<<"$out" && { [[ -z $nomatch ]] || ! grep -q -- "$nomatch" <<<"$out"; }; then
            pass "services: $what: exit $rc: $out"
        else
            fail "services: $what: exit $rc (want $want${nomatch:+, without '$nomatch'}): $out"
        fi
    }
    on_net "probe postgres by service name, no credentials (pg_isready's rule)" 0 . '' \
        postgres postgres://db:5432
    on_net "probe postgres --query as app" 0 . 'e2e-app-secret' \
        postgres 'postgres://app:e2e-app-secret@db:5432/app' --query 'select 1'
    on_net "probe postgres --query with a wrong password is unhealthy, password redacted" 1 'password authentication failed' 'bad-pw-8d1f' \
        postgres 'postgres://app:bad-pw-8d1f@db:5432/app' --query 'select 1'
    on_net "probe redis with the password" 0 . 'e2e-redis-secret' \
        redis 'redis://:e2e-redis-secret@redis:6379'
    on_net "probe redis without the password is unhealthy (NOAUTH)" 1 'noauth|auth' '' \
        redis redis://redis:6379
    on_net "probe redis with a wrong password is unhealthy, password redacted" 1 'WRONGPASS|invalid password' 'bad-pw-8d1f' \
        redis 'redis://:bad-pw-8d1f@redis:6379'
    compose "$dir" down -v --remove-orphans >/dev/null 2>&1
}

server_logs() {
    local dir=$1 s
    shift
    for s in "$@"; do
        log "logs of $s:"
        compose "$dir" logs --no-color --tail 15 "$s" >&2 2>&1
    done
}

# ---------------------------------------------------------------------------------------
# 5. migrate-then-exec: replicas started together migrate one at a time

REPLICAS=3

step_migrate() {
    base_images || return 1
    debian_image || return 1
    COMPOSE=${COMPOSES[0]:-}
    [[ -n $COMPOSE ]] || { fail "migrate: no compose"; return 1; }
    local project="${PREFIX//-/}mig" dir
    dir="$WORK/$project"
    mkdir -p "$dir"
    register_project "$project"
    {
        echo 'services:'
        echo "$SERVERS_YML"
        # No depends_on: the replicas start with the database and wait for it themselves.
        cat <<'EOF'
  app:
    image: ${E2E_IMG_DEB}
    entrypoint: ["/probe", "migrate-then-exec", "--wait", "$${DATABASE_URL}", "--lock", "--timeout", "120s",
                 "--migrate", "/usr/local/bin/e2e-migrate", "--", "/usr/local/bin/e2e-app"]
    environment:
      DATABASE_URL: postgres://app:e2e-app-secret@db:5432/app
    labels:
      probe-e2e.run: ${E2E_RUN}
networks:
  default:
    internal: true
    labels:
      probe-e2e.run: ${E2E_RUN}
EOF
    } >"$dir/docker-compose.yml"
    export E2E_IMG_DEB=$IMG_DEB E2E_RUN=$RUN_ID
    local up
    up=$(now)
    if ! compose "$dir" up -d --scale "app=$REPLICAS" >"$WORK/compose.log" 2>&1; then
        tail -n 10 "$WORK/compose.log" >&2
        fail "migrate: compose up --scale app=$REPLICAS"
        compose "$dir" down -v >/dev/null 2>&1
        return 1
    fi
    local apps started=0 c t0=$SECONDS
    apps=$(compose "$dir" ps -q app)
    while ((SECONDS - t0 < 120)); do
        started=0
        for c in $apps; do logs_contain "$c" 'e2e-app: started' && started=$((started + 1)); done
        ((started == REPLICAS)) && break
        # a replica that exited will never start its app
        for c in $apps; do is_exited "$c" && break 2; done
        sleep 0.5
    done
    if ((started == REPLICAS)); then
        SUMMARY[migrate]=$(elapsed "$up" "$(now)")
        pass "migrate: all $REPLICAS replicas ran the migration and exec'd their app"
    else
        fail "migrate: $started of $REPLICAS replicas started their app"
        for c in $apps; do log "replica $c: exit $(inspect "$c" '{{.State.ExitCode}}'): $(docker logs "$c" 2>&1 | tail -n 4 | tr '\n' ' ')"; done
        server_logs "$dir" db
        compose "$dir" down -v >/dev/null 2>&1
        return 1
    fi
    local pid1=0
    for c in $apps; do logs_contain "$c" 'e2e-app: started as pid 1$' && pid1=$((pid1 + 1)); done
    check "migrate: every app is PID 1 ($pid1 of $REPLICAS)" test "$pid1" = "$REPLICAS"

    local rows overlaps
    sql() { compose "$dir" exec -T db psql -h /tmp -U postgres -d app -Atc "$1" 2>&1; }
    rows=$(sql "select count(*) from e2e_migrations where finished is not null")
    overlaps=$(sql "select count(*) from e2e_migrations a join e2e_migrations b on a.replica < b.replica
                    where a.started < b.finished and b.started < a.finished")
    check "migrate: $REPLICAS migrations recorded (got $rows)" test "$rows" = "$REPLICAS"
    check "migrate: no two migrations overlapped under --lock (overlaps: $overlaps)" test "$overlaps" = 0
    compose "$dir" down -v --remove-orphans >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------
# examples/: every file parses, every probe line parses with probe itself

step_examples() {
    probe_binary_quiet || return 1
    local out rc
    out=$(PROBE_BIN=$PROBE bash "$HERE/examples.sh" 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -E '^(ok|FAIL) ' | sed 's/^ok   /ok   examples: /; s/^FAIL /FAIL examples: /'
    PASSED=$((PASSED + $(grep -c '^ok ' <<<"$out")))
    local f
    f=$(grep -c '^FAIL ' <<<"$out")
    FAILED=$((FAILED + f))
    if ((rc != 0 && f == 0)); then
        fail "examples: examples.sh exit $rc: $(tail -n 3 <<<"$out")"
    fi
    while read -r line; do FAILURES+=("examples: ${line#FAIL }"); done < <(grep '^FAIL ' <<<"$out")
}

probe_binary_quiet() {
    [[ -n ${PROBE:-} ]] && return 0
    probe_binary >/dev/null
}

# ---------------------------------------------------------------------------------------

summary() {
    echo
    echo "== summary (run $RUN_ID)"
    [[ -n ${SUMMARY[size]:-} ]] && echo "image size (FROM scratch, only /probe): ${SUMMARY[size]}"
    local k
    for k in http tcp file process; do
        [[ -n ${SUMMARY[healthy_$k]:-} ]] &&
            echo "HEALTHCHECK $k (interval 1s): start -> healthy ${SUMMARY[healthy_$k]}s; break -> unhealthy ${SUMMARY[unhealthy_$k]:-?}s"
    done
    for k in "${!SUMMARY[@]}"; do
        [[ $k == compose_* ]] && echo "compose ${k#compose_}: up -d (web healthy, dependent started) in ${SUMMARY[$k]}s"
    done
    [[ -n ${SUMMARY[stop_waiting]:-} ]] && echo "docker stop while probe waits as PID 1: ${SUMMARY[stop_waiting]}s (exit 143)"
    [[ -n ${SUMMARY[stop_app]:-} ]] &&
        echo "docker stop of the exec'd app as PID 1: ${SUMMARY[stop_app]}s (the app's SIGTERM trap ran after ${SUMMARY[term_app]:-?}s)"
    [[ -n ${SUMMARY[serve_healthy]:-} ]] &&
        echo "probe serve as PID 1: healthy (HEALTHCHECK on /readyz) after ${SUMMARY[serve_healthy]}s; docker stop ${SUMMARY[serve_stop]:-?}s (the app's SIGTERM trap ran after ${SUMMARY[serve_term]:-?}s, probe exited after ${SUMMARY[serve_exit]:-?}s)"
    [[ -n ${SUMMARY[services]:-} ]] && echo "PostgreSQL + Redis containers healthy by probe healthchecks in ${SUMMARY[services]}s"
    [[ -n ${SUMMARY[migrate]:-} ]] &&
        echo "migrate-then-exec: $REPLICAS replicas started with their database, all apps up after ${SUMMARY[migrate]}s (migrations of 1s each, one at a time)"
    [[ -n ${SUMMARY[debian]:-} ]] && echo "debian image: ${SUMMARY[debian]}"
    if ((FAILED)); then
        echo "failures:"
        printf '  - %s\n' "${FAILURES[@]}"
    fi
    echo "e2e: $PASSED passed, $FAILED failed"
}

main() {
    local s
    for s in "${STEPS[@]}"; do
        [[ " ${ALL_STEPS[*]} " == *" $s "* ]] || { echo "unknown step '$s' (steps: ${ALL_STEPS[*]})" >&2; exit 3; }
    done
    if [[ " ${STEPS[*]} " == " examples " ]]; then
        step_examples
    elif preflight; then
        for s in "${STEPS[@]}"; do
            log "step $s"
            "step_$s"
        done
    fi
    summary
    ((FAILED == 0))
}

main
