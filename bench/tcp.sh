# probe tcp vs nc -z, against a local listener.
bench_tcp() {
    local port
    port=$(free_port)
    mkdir -p "$WORK/tcp-www"
    busybox httpd -f -p "127.0.0.1:$port" -h "$WORK/tcp-www" &
    local server=$!
    wait_port "$port"
    row "tcp 127.0.0.1 vs nc -z" "$PROBE" tcp "127.0.0.1:$port" -- nc -z 127.0.0.1 "$port"
    row "tcp localhost (resolved) vs nc -z localhost" "$PROBE" tcp "localhost:$port" -- nc -z localhost "$port"
    row "tcp 127.0.0.1 vs floor (static C connect)" "$PROBE" tcp "127.0.0.1:$port" -- "$FLOOR/tcp" 127.0.0.1 "$port"
    kill "$server"
}
