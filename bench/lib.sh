# Helpers shared by bench/*.sh. Sourced by bench/run, which sets PROBE (the release binary)
# and WORK (a temp dir removed at exit).

RUNS=${RUNS:-200}

# must_succeed CMD...: runs CMD once and stops the whole benchmark if it fails, so that a
# broken probe (or baseline) can never be timed as a fast one.
must_succeed() {
    local out status=0
    out=$("$@" 2>&1) || status=$?
    if [ "$status" != 0 ]; then
        echo "bench: this command must succeed before it is timed, but exited $status:" >&2
        printf '  %q' "$@" >&2
        echo >&2
        printf '%s\n' "$out" | head -5 >&2
        exit 1
    fi
}

# median_ms CMD...: median wall time in ms of CMD over $RUNS runs (hyperfine, no shell).
# The command is run once first and must succeed; hyperfine then fails on any non-zero exit.
median_ms() {
    must_succeed "$@"
    hyperfine -N --style none --warmup 20 --runs "$RUNS" --export-json "$WORK/h.json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1 \
        || { echo "bench: a timed run failed: $*" >&2; exit 1; }
    python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$WORK/h.json"
}

# peak_rss_kb CMD...: peak resident set size of one run, in KiB.
peak_rss_kb() {
    /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1
}

# row NAME PROBE_CMD -- BASELINE_CMD: one table row comparing probe with a baseline tool.
row() {
    local name=$1; shift
    local probe_cmd=() baseline_cmd=()
    while [ "$1" != "--" ]; do probe_cmd+=("$1"); shift; done; shift
    baseline_cmd=("$@")
    local p b pr br
    p=$(median_ms "${probe_cmd[@]}")
    b=$(median_ms "${baseline_cmd[@]}")
    pr=$(peak_rss_kb "${probe_cmd[@]}")
    br=$(peak_rss_kb "${baseline_cmd[@]}")
    python3 -c 'import sys; n,p,b,pr,br=sys.argv[1:]; print("| %-44s | %8.3f | %8.3f | %5.2fx | %6.0f | %6.0f |" % (n,float(p),float(b),float(p)/float(b),float(pr),float(br)))' \
        "$name" "$p" "$b" "$pr" "$br"
}

table_header() {
    echo "| probe vs baseline                            | probe ms | base ms  | ratio  | probe KiB | base KiB |"
    echo "|----------------------------------------------|----------|----------|--------|--------|--------|"
}

# free_port: a TCP port nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (at most 10 s).
wait_port() {
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}
