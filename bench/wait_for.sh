# probe wait-for: readiness latency against a wait-for-it.sh-style 1s polling loop, and the
# CPU time a 30s wait costs.
bench_wait_for() {
    local rounds=${WAIT_ROUNDS:-15} stamp_cmd probe_ms loop_ms cpu
    stamp_cmd='date +%s%N > {stamp}'
    probe_ms=$(python3 bench/readiness.py "$rounds" "$PROBE" wait-for "tcp://127.0.0.1:{port}" --timeout 30s -q -- sh -c "$stamp_cmd")
    loop_ms=$(python3 bench/readiness.py "$rounds" sh -c "until nc -z 127.0.0.1 {port}; do sleep 1; done; $stamp_cmd")
    python3 -c 'import sys; p,b=map(float,sys.argv[1:]); print("| %-44s | %8.1f | %8.1f | %5.2fx |        |        |" % ("wait-for latency (median ms) vs 1s nc loop",p,b,p/b))' "$probe_ms" "$loop_ms"
    # CPU over a 30s wait for a port that never opens (user+system seconds).
    cpu=$( (/usr/bin/time -f '%U %S' "$PROBE" wait-for "tcp://127.0.0.1:$(free_port)" --timeout 30s -q 2>&1 >/dev/null || true) | tail -1)
    python3 -c 'import sys; u,s=map(float,sys.argv[1:]); print("| %-44s | %8.0f |          |        |        |        |" % ("wait-for CPU over a 30s wait (ms)", (u+s)*1000))' $cpu
}
