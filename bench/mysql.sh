# probe mysql vs mysqladmin ping (mariadb-client), against a private mariadbd this function
# starts on a free port in $WORK and stops. Sourced by bench/run (needs PROBE, WORK and
# bench/lib.sh).
#
# Run alone:  PROBE=target/release/probe WORK=$(mktemp -d) bash -c '. bench/lib.sh; . bench/mysql.sh; table_header; bench_mysql'

bench_mysql() {
    local port pid dir user=()
    port=$(free_port)
    dir="$WORK/mysql"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && user=(--user=root)
    mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
        --skip-test-db "${user[@]}" >"$dir/install.log" 2>&1
    cat >"$dir/init.sql" <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY 'bench-root';
CREATE USER 'bench'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('bench-pass');
SQL
    /usr/sbin/mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/mysqld.sock" \
        --port="$port" --bind-address=127.0.0.1 --init-file="$dir/init.sql" --skip-log-bin \
        --innodb-buffer-pool-size=16M --pid-file="$dir/mysqld.pid" "${user[@]}" \
        >"$dir/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 400); do
        grep -q "ready for connections" "$dir/server.log" 2>/dev/null && break
        sleep 0.05
    done

    # Both without a password: the login is refused (1045), which proves the server is up.
    row "mysql ping (no password, refused login)" \
        "$PROBE" mysql "mysql://127.0.0.1:$port?ssl-mode=DISABLED" -- \
        mysqladmin --no-defaults -h 127.0.0.1 -P "$port" -u root --skip-ssl ping
    row "mysql ping (password, logged in)" \
        "$PROBE" mysql "mysql://bench:bench-pass@127.0.0.1:$port?ssl-mode=DISABLED" -- \
        mysqladmin --no-defaults -h 127.0.0.1 -P "$port" -u bench -pbench-pass --skip-ssl ping
    row "mysql ping (password, unix socket)" \
        "$PROBE" mysql "mysql+unix://bench:bench-pass@$dir/mysqld.sock" -- \
        mysqladmin --no-defaults -S "$dir/mysqld.sock" -u bench -pbench-pass ping

    kill "$pid"
    wait "$pid" 2>/dev/null || true
}
