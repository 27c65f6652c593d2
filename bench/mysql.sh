# probe mysql vs mysqladmin ping (mariadb-client), against a private mariadbd this function
# starts on a free port in $WORK and stops. Sourced by bench/run (needs PROBE, WORK and
# bench/lib.sh).
#
# Run alone:  PROBE=target/release/probe WORK=$(mktemp -d) bash -c '. bench/lib.sh; . bench/mysql.sh; table_header; bench_mysql'

# mysql_start: a mariadbd on MYSQL_PORT and the Unix socket MYSQL_SOCK (pid MYSQL_PID), with
# root (password bench-root) and bench (password bench-pass, mysql_native_password);
# bench/startup.sh uses it too. mysql_stop ends it.
mysql_start() {
    local dir="$WORK/mysql" user=()
    MYSQL_PORT=$(free_port)
    MYSQL_SOCK="$dir/mysqld.sock"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && user=(--user=root)
    mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
        --skip-test-db "${user[@]}" >"$dir/install.log" 2>&1
    cat >"$dir/init.sql" <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY 'bench-root';
CREATE USER 'bench'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('bench-pass');
SQL
    /usr/sbin/mariadbd --no-defaults --datadir="$dir/data" --socket="$MYSQL_SOCK" \
        --port="$MYSQL_PORT" --bind-address=127.0.0.1 --init-file="$dir/init.sql" --skip-log-bin \
        --innodb-buffer-pool-size=16M --pid-file="$dir/mysqld.pid" "${user[@]}" \
        >"$dir/server.log" 2>&1 &
    MYSQL_PID=$!
    for _ in $(seq 400); do
        grep -q "ready for connections" "$dir/server.log" 2>/dev/null && break
        sleep 0.05
    done
}

mysql_stop() {
    kill "$MYSQL_PID"
    wait "$MYSQL_PID" 2>/dev/null || true
}

bench_mysql() {
    mysql_start
    local port=$MYSQL_PORT
    # Both without a password: the login is refused (1045), which proves the server is up.
    row "mysql ping (no password, refused login)" \
        "$PROBE" mysql "mysql://127.0.0.1:$port?ssl-mode=DISABLED" -- \
        mysqladmin --no-defaults -h 127.0.0.1 -P "$port" -u root --skip-ssl ping
    row "mysql ping (password, logged in)" \
        "$PROBE" mysql "mysql://bench:bench-pass@127.0.0.1:$port?ssl-mode=DISABLED" -- \
        mysqladmin --no-defaults -h 127.0.0.1 -P "$port" -u bench -pbench-pass --skip-ssl ping
    row "mysql ping (password, unix socket)" \
        "$PROBE" mysql "mysql+unix://bench:bench-pass@$MYSQL_SOCK" -- \
        mysqladmin --no-defaults -S "$MYSQL_SOCK" -u bench -pbench-pass ping
    mysql_stop
}
