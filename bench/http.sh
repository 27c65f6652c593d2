# probe http vs curl -fsS and wget --spider, against the same local busybox httpd.
bench_http() {
    local port url
    port=$(free_port)
    mkdir -p "$WORK/www"
    echo '{"status":"ok"}' >"$WORK/www/health"
    busybox httpd -f -p "127.0.0.1:$port" -h "$WORK/www" &
    local server=$!
    wait_port "$port"
    url="http://127.0.0.1:$port/health"
    row "http vs curl -fsS" "$PROBE" http "$url" -- curl -fsS -o /dev/null "$url"
    row "http vs wget -q --spider" "$PROBE" http "$url" -- wget -q --spider "$url"
    row "http vs floor (static C GET)" "$PROBE" http "$url" -- "$FLOOR/http" 127.0.0.1 "$port" /health
    row "http --expect-json /status=ok vs curl -fsS" "$PROBE" http "$url" --expect-json /status=ok -- curl -fsS -o /dev/null "$url"
    kill "$server"
}
