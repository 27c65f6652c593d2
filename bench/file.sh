# probe file --max-age vs the heartbeat snippet it replaces (a shell, date and stat).

bench_file() {
    local heartbeat="$WORK/heartbeat"
    touch "$heartbeat"
    row "file --max-age 60s (vs sh + date + stat)" \
        "$PROBE" file "$heartbeat" --max-age 60s -- \
        sh -c 'test $(( $(date +%s) - $(stat -c %Y "$1") )) -lt 60' sh "$heartbeat"
}
