# probe process vs pgrep -f, against a long-running child with a distinctive command line
# (a renamed sleep, started here and killed at the end).

bench_process() {
    local name="probe-bench-worker-$$"
    ln -sf "$(command -v sleep)" "$WORK/$name"
    "$WORK/$name" 3600 &
    local worker=$!
    local tries=0
    until "$PROBE" process --cmdline "$name 3600" -q; do
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ]; then
            echo "bench_process: probe does not see the worker" >&2
            break
        fi
        sleep 0.02
    done
    row "process --cmdline (vs pgrep -f)" \
        "$PROBE" process --cmdline "$name 3600" -- pgrep -f "$name 3600"
    row "process NAME (vs pgrep -x)" \
        "$PROBE" process "$name" -- pgrep -x "${name:0:15}"
    kill "$worker" 2>/dev/null
    wait "$worker" 2>/dev/null || true
    return 0
}
