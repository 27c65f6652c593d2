# bench_postgres: probe postgres vs pg_isready and psql, against a PostgreSQL it starts itself
# (initdb in $WORK, free port, scram-sha-256 over TCP) and stops at the end. Needs the Debian
# postgresql package; as root the server runs as the postgres user.
# Measured 2026-11-23 (RUNS=100, release glibc build, 2 shared cores, PostgreSQL 15):
# | postgres (up, no password)                   |    2.971 |   43.525 |  0.07x |   2140 |   9104 |
# | postgres --query 'select 1' (scram login)    |   10.263 |   63.537 |  0.16x |   2404 |  11588 |

# postgres_start: a PostgreSQL on PG_PORT (scram-sha-256 over TCP) with the role app
# (password bench-secret) owning the database app, when postgres_installed. bench/startup.sh
# uses it too. postgres_stop ends it.
postgres_installed() {
    PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$PG_BINDIR" ]
}

postgres_start() {
    # A directory of its own each time: postgres, serve and startup each start one in a
    # full bench/run, and initdb refuses a data directory that is not empty.
    PG_DIR=$(mktemp -d "$WORK/pg.XXXXXX")
    local password=bench-secret
    PG_PORT=$(free_port)
    mkdir -p "$PG_DIR/socket"
    PG_AS=()
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres:postgres "$PG_DIR"
        PG_AS=(runuser -u postgres --)
    fi
    "${PG_AS[@]}" "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U postgres -E UTF8 --locale=C --no-sync \
        --no-instructions --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    "${PG_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -o \
        "-p $PG_PORT -k $PG_DIR/socket -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB" \
        start >/dev/null
    psql -h "$PG_DIR/socket" -p "$PG_PORT" -U postgres -d postgres -X -q \
        -c "create role app login password '$password'" >/dev/null
    psql -h "$PG_DIR/socket" -p "$PG_PORT" -U postgres -d postgres -X -q \
        -c "create database app owner app" >/dev/null
}

postgres_stop() {
    "${PG_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
}

bench_postgres() {
    if ! postgres_installed; then
        echo "| postgres: skipped (no /usr/lib/postgresql/*/bin) |"
        return 0
    fi
    postgres_start
    local port=$PG_PORT password=bench-secret
    local url="postgres://app@127.0.0.1:$port/app"
    row "postgres (up, no password)" \
        "$PROBE" postgres "$url" -q -- \
        pg_isready -q -h 127.0.0.1 -p "$port" -U app -d app
    row "postgres --query 'select 1' (scram login)" \
        env PGPASSWORD=$password "$PROBE" postgres "$url" --query "select 1" -q -- \
        env PGPASSWORD=$password psql -X -q -h 127.0.0.1 -p "$port" -U app -d app -c 'select 1'
    postgres_stop
}
