# The hostile-peer table of tests/it/hostile.rs (protocol x phase: full backlog, TLS
# handshake trickle, silence, trickle, flood, garbage, huge length prefix, and the modes)
# run against the release binary: prints the worst overrun (wall - timeout) and the worst
# peak RSS (the child's own ru_maxrss, from wait4) over all rows.
#
# Run alone:  PROBE=target/x86_64-unknown-linux-musl/release/probe bash -c '. bench/hostile.sh; bench_hostile'

bench_hostile() {
    local lines
    lines=$(HOSTILE_PROBE=$PROBE cargo test --locked --quiet --test it hostile::every_row -- \
        --nocapture --test-threads 1 2>&1 | grep -o 'hostile-row.*' || true)
    if [ -z "$lines" ]; then
        echo "| hostile peers: the table did not run (cargo test --test it hostile) | | | | | |"
        return
    fi
    printf '%s\n' "$lines" | python3 -c '
import sys
rows = [line.rstrip("\n").split("\t") for line in sys.stdin]
over = max(rows, key=lambda r: int(r[4]) - int(r[3]))
rss = max(rows, key=lambda r: int(r[5]))
print("| hostile peers: %d rows, worst overrun (wall - timeout) | %+d ms (%s) | | | | |"
      % (len(rows), int(over[4]) - int(over[3]), over[1]))
print("| hostile peers: %d rows, worst peak RSS | | | | %s KiB (%s) | |"
      % (len(rows), rss[5], rss[1]))
'
}
