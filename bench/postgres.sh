# bench_postgres: probe postgres vs pg_isready and psql, against a PostgreSQL it starts itself
# (initdb in $WORK, free port, scram-sha-256 over TCP) and stops at the end. Needs the Debian
# postgresql package; as root the server runs as the postgres user.
# Measured 2026-11-23 (RUNS=100, release glibc build, 2 shared cores, PostgreSQL 15):
# | postgres (up, no password)                   |    2.971 |   43.525 |  0.07x |   2140 |   9104 |
# | postgres --query 'select 1' (scram login)    |   10.263 |   63.537 |  0.16x |   2404 |  11588 |

bench_postgres() {
    local bindir
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$bindir" ]; then
        echo "| postgres: skipped (no /usr/lib/postgresql/*/bin) |"
        return 0
    fi
    local dir="$WORK/pg" port password=bench-secret
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$dir/socket"
    local as=()
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres:postgres "$dir"
        as=(runuser -u postgres --)
    fi
    "${as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C --no-sync \
        --no-instructions --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
        "-p $port -k $dir/socket -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB" \
        start >/dev/null
    psql -h "$dir/socket" -p "$port" -U postgres -d postgres -X -q \
        -c "create role app login password '$password'" >/dev/null
    psql -h "$dir/socket" -p "$port" -U postgres -d postgres -X -q \
        -c "create database app owner app" >/dev/null

    local url="postgres://app@127.0.0.1:$port/app"
    row "postgres (up, no password)" \
        "$PROBE" postgres "$url" -q -- \
        pg_isready -q -h 127.0.0.1 -p "$port" -U app -d app
    row "postgres --query 'select 1' (scram login)" \
        env PGPASSWORD=$password "$PROBE" postgres "$url" --query "select 1" -q -- \
        env PGPASSWORD=$password psql -X -q -h 127.0.0.1 -p "$port" -U app -d app -c 'select 1'

    "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}
