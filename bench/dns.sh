# probe dns against the tools health lines use today, dig and nslookup (bind9-dnsutils),
# asking the same local dnsmasq.

bench_dns() {
    local port
    port=$(free_port)
    dnsmasq --keep-in-foreground --conf-file=/dev/null --pid-file= --user=root \
        --port="$port" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
        --local=/bench.test/ --host-record=db.bench.test,10.0.0.5 \
        --log-facility="$WORK/dnsmasq.log" &
    wait_port "$port"
    row "dns --server (vs dig +short)" \
        "$PROBE" dns db.bench.test --server "127.0.0.1:$port" --expect 10.0.0.5 -- \
        dig @127.0.0.1 -p "$port" +short +tries=1 db.bench.test
    row "dns --server (vs nslookup)" \
        "$PROBE" dns db.bench.test --server "127.0.0.1:$port" -- \
        nslookup -port="$port" db.bench.test 127.0.0.1
}
