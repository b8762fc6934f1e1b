#!/usr/bin/env bash
# pgserver.sh - a throw-away PostgreSQL server on 127.0.0.1 for helpdesk_mail's SQL
# storage tests: a private cluster under $STATE, TCP on loopback only (no Unix socket),
# fsync off, one password-authenticated role and its database.  No systemd, nothing
# written outside $STATE (except installing the Debian packages when missing).
#
#   bash tests/services/pgserver.sh start    # install if needed, initdb once, start, print the env
#   bash tests/services/pgserver.sh stop     # pg_ctl stop -m fast (SIGKILL by pid after 10 s)
#   bash tests/services/pgserver.sh restart
#   bash tests/services/pgserver.sh status   # exit 0 if running, 3 if not
#   bash tests/services/pgserver.sh env      # print the env lines again
#   bash tests/services/pgserver.sh reset    # drop and recreate the test database and template,
#                                            # and drop per-test databases left behind (helpdesk_t_*)
#
# `start` prints, for `eval "$(bash pgserver.sh start)"`:
#   HELPDESK_TEST_PG_HOST=127.0.0.1  HELPDESK_TEST_PG_PORT=15432
#   HELPDESK_TEST_PG_USER=helpdesk   HELPDESK_TEST_PG_PASSWORD=helpdesk-pg-secret
#   HELPDESK_TEST_PG_DB=helpdesk_test
#   HELPDESK_TEST_PG_URL=postgresql+psycopg://helpdesk:helpdesk-pg-secret@127.0.0.1:15432/helpdesk_test
#   HELPDESK_TEST_PG_TEMPLATE=helpdesk_test_template   (empty, owned by the test role: the
#       source of the per-test databases of tests/integration/conftest.py's `pg_url`)
#   HELPDESK_PG_STATE=<state dir>
# The test role may create databases (CREATEDB) and owns everything above; the
# superuser `postgres` has a random password in $STATE/superuser.pw (mode 600).
# `start` is idempotent (prints the env again when this state dir's server runs) and
# refuses to start when the port is taken by anything else.
#
# Environment (all optional):
#   HELPDESK_SERVICES_DIR  base of all test-service state (default ${TMPDIR:-/tmp}/helpdesk_mail-services)
#   HELPDESK_PG_STATE      this server's state dir (default $HELPDESK_SERVICES_DIR/postgres)
#   HELPDESK_TEST_PG_PORT  port (default 15432; kept in $STATE/env from the first start:
#                          to change it, stop, `rm -rf` the state dir and start again)
#   HELPDESK_PG_OS_USER    OS user running the server when started as root (default postgres)
#   HELPDESK_PG_BINDIR     where initdb/pg_ctl/postgres/psql are (default: the newest
#                          /usr/lib/postgresql/*/bin, else the directory of `pg_ctl` on PATH)
#
# Packages: `postgresql` (Debian 12: postgresql-15) when initdb/pg_ctl are missing, and
# `libpq5` when the system's libpq is missing: the tests' psycopg is the pure-Python one
# (no psycopg[binary]), which loads libpq.so.5 with ctypes.  A temporary policy-rc.d keeps
# Debian's maintainer scripts from starting the system cluster on port 5432 (the package
# still creates that cluster, `15 main`, stopped; this script never touches it), and
# man-db's index is not rebuilt during the install.
#
# Pitfalls handled: PostgreSQL refuses to run as root, so as root the server runs as
# the `postgres` system user, which owns $STATE (its parents must be traversable by it:
# anything under /tmp is); Debian keeps initdb/pg_ctl off PATH (/usr/lib/postgresql/N/bin);
# the server must not keep the caller's stdout/stderr open (a caller capturing our output
# would wait for it to exit); pids are checked against this state dir (pids are reused)
# and zombies count as stopped; no Unix socket, so no /var/run/postgresql and no socket
# path length limit.
set -euo pipefail
umask 022

BASE="${HELPDESK_SERVICES_DIR:-${TMPDIR:-/tmp}/helpdesk_mail-services}"
STATE="${HELPDESK_PG_STATE:-$BASE/postgres}"
DATA="$STATE/data"
HOST=127.0.0.1
PER_TEST_PREFIX=helpdesk_t_

log() { echo "pgserver: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
    OS_USER="${HELPDESK_PG_OS_USER:-postgres}"
else
    OS_USER="$(id -un)"
fi

# --------------------------------------------------------------------------
# Packages
# --------------------------------------------------------------------------
find_bindir() {
    local d version
    if [ -n "${HELPDESK_PG_BINDIR:-}" ]; then
        echo "$HELPDESK_PG_BINDIR"
        return 0
    fi
    # an existing cluster needs the binaries of its own major version
    if [ -f "$DATA/PG_VERSION" ]; then
        version="$(cat "$DATA/PG_VERSION")"
        d="/usr/lib/postgresql/$version/bin"
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            echo "$d"
            return 0
        fi
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            echo "$d"
            return 0
        fi
    done
    command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1 || return 1
    dirname "$(readlink -f "$(command -v pg_ctl)")"
}

have_libpq() {
    local ldconfig
    ldconfig="$(command -v ldconfig || echo /sbin/ldconfig)"
    "$ldconfig" -p 2>/dev/null | grep -q 'libpq\.so\.5 '
}

# policy-rc.d keeps Debian's maintainer scripts from starting the system cluster; the
# man-db flag file is moved aside so the man page index is not rebuilt (~10 s of a
# ~35 s install here).  Both are put back as they were, also when the install fails.
APT_POLICY=0
APT_MANDB=0
apt_restore() {
    [ "$APT_POLICY" -eq 0 ] || $SUDO rm -f /usr/sbin/policy-rc.d
    [ "$APT_MANDB" -eq 0 ] || $SUDO mv -f /var/lib/man-db/auto-update.pgserver /var/lib/man-db/auto-update
    APT_POLICY=0
    APT_MANDB=0
}

apt_install() {
    local ok=0
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    command -v apt-get >/dev/null 2>&1 || die "$* missing and there is no apt-get to install it"
    log "installing $* with apt-get ..."
    trap apt_restore EXIT
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        APT_POLICY=1
    fi
    if [ -e /var/lib/man-db/auto-update ] && [ ! -e /var/lib/man-db/auto-update.pgserver ]; then
        $SUDO mv /var/lib/man-db/auto-update /var/lib/man-db/auto-update.pgserver
        APT_MANDB=1
    fi
    if ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
        ok=1
    else
        $SUDO apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null &&
            ok=1
    fi
    apt_restore
    trap - EXIT
    [ "$ok" -eq 1 ] || die "apt-get install $* failed"
}

ensure_packages() {
    local missing=()
    find_bindir >/dev/null || missing+=(postgresql)
    have_libpq || missing+=(libpq5)
    [ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
    BINDIR="$(find_bindir)" || die "no initdb/pg_ctl found after installing postgresql (set HELPDESK_PG_BINDIR)"
    PSQL="$BINDIR/psql"
    [ -x "$PSQL" ] || PSQL="$(command -v psql)" || die "no psql found"
}

# --------------------------------------------------------------------------
# Settings (fixed at the first start, saved in $STATE/env)
# --------------------------------------------------------------------------
load_settings() {
    local asked="${HELPDESK_TEST_PG_PORT:-}"
    if [ -f "$STATE/env" ]; then
        # shellcheck disable=SC1091
        . "$STATE/env"
    fi
    PORT="${HELPDESK_TEST_PG_PORT:-15432}"
    PG_USER="${HELPDESK_TEST_PG_USER:-helpdesk}"
    PG_PASSWORD="${HELPDESK_TEST_PG_PASSWORD:-helpdesk-pg-secret}"
    PG_DB="${HELPDESK_TEST_PG_DB:-helpdesk_test}"
    PG_TEMPLATE="${HELPDESK_TEST_PG_TEMPLATE:-helpdesk_test_template}"
    if [ -n "$asked" ] && [ "$asked" != "$PORT" ]; then
        log "warning: $STATE was set up for port $PORT (not $asked); rm -rf it to change the port"
    fi
}

print_env() {
    cat <<EOF
export HELPDESK_TEST_PG_HOST=$HOST
export HELPDESK_TEST_PG_PORT=$PORT
export HELPDESK_TEST_PG_USER=$PG_USER
export HELPDESK_TEST_PG_PASSWORD=$PG_PASSWORD
export HELPDESK_TEST_PG_DB=$PG_DB
export HELPDESK_TEST_PG_URL=postgresql+psycopg://$PG_USER:$PG_PASSWORD@$HOST:$PORT/$PG_DB
export HELPDESK_TEST_PG_TEMPLATE=$PG_TEMPLATE
export HELPDESK_PG_STATE=$STATE
EOF
}

# --------------------------------------------------------------------------
# Running things as the server's OS user
# --------------------------------------------------------------------------
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$STATE" && setpriv --reuid="$OS_USER" --regid="$(id -g "$OS_USER")" --init-groups \
            env HOME="$STATE" "$@")
    else
        (cd "$STATE" && "$@")
    fi
}

# psql as the superuser over TCP (the only way in: there is no Unix socket)
psql_admin() {
    PGPASSWORD="$(cat "$STATE/superuser.pw")" "$PSQL" -X -q -v ON_ERROR_STOP=1 \
        -h "$HOST" -p "$PORT" -U postgres -d postgres "$@"
}

prepare_state() {
    id "$OS_USER" >/dev/null 2>&1 || die "no OS user $OS_USER (the postgresql package creates 'postgres'; or set HELPDESK_PG_OS_USER)"
    mkdir -p "$STATE/log"
    # our own base dir may have been made under a strict umask (077)
    [ "$(dirname "$STATE")" != "$BASE" ] || [ ! -O "$BASE" ] || chmod a+x "$BASE"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$OS_USER:" "$STATE" "$STATE/log"
        [ ! -f "$STATE/log/postgres.log" ] || chown "$OS_USER:" "$STATE/log/postgres.log"
        as_pg test -w "$STATE" 2>/dev/null \
            || die "$OS_USER cannot reach $STATE; choose a HELPDESK_SERVICES_DIR whose parents are world-executable (e.g. under /tmp)"
    fi
    chmod 755 "$STATE"
}

init_cluster() {
    [ -f "$DATA/PG_VERSION" ] && [ -f "$DATA/postgresql.conf" ] && return 0
    rm -rf "$DATA"   # a half-made cluster from an interrupted initdb
    local pw locale=C.UTF-8
    pw="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
    printf '%s\n' "$pw" >"$STATE/superuser.pw"
    chmod 600 "$STATE/superuser.pw"
    [ "$(id -u)" -ne 0 ] || chown "$OS_USER:" "$STATE/superuser.pw"
    locale -a 2>/dev/null | grep -qix 'c\.utf-\?8' || locale=C
    log "initdb $DATA ($("$BINDIR/postgres" --version))"
    if ! as_pg "$BINDIR/initdb" -D "$DATA" -U postgres --pwfile="$STATE/superuser.pw" \
        --auth-host=scram-sha-256 --auth-local=reject --encoding=UTF8 --locale="$locale" \
        --no-sync >"$STATE/log/initdb.log" 2>&1; then
        cat "$STATE/log/initdb.log" >&2
        die "initdb failed"
    fi
    printf "\n# test settings, rewritten by pgserver.sh at every start\ninclude = 'helpdesk.conf'\n" \
        | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
}

write_config() {
    as_pg tee "$DATA/helpdesk.conf" >/dev/null <<EOF
# Written by tests/services/pgserver.sh: a test-only server, loopback only, not durable.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 100
# autovacuum workers connect to fresh databases as the superuser, and DROP DATABASE ...
# WITH (FORCE) by the test role may not terminate them: tests need no vacuuming
autovacuum = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    as_pg tee "$DATA/pg_hba.conf" >/dev/null <<EOF
# Written by tests/services/pgserver.sh: password logins over loopback TCP only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   $HOST/32  scram-sha-256
EOF
}

# the roles and databases the tests use (idempotent; runs at every start)
bootstrap() {
    psql_admin -v user="$PG_USER" -v pw="$PG_PASSWORD" -v db="$PG_DB" -v tpl="$PG_TEMPLATE" <<'SQL'
SELECT format('CREATE ROLE %I', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN CREATEDB NOSUPERUSER PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'tpl', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'tpl') \gexec
SQL
}

pid_alive() {
    local pid
    pid="$(head -1 "$DATA/postmaster.pid" 2>/dev/null)" || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ] || return 1
    # really this state dir's postmaster (pids get reused)
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-D $DATA" || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

cmd_start() {
    local t0 pid
    t0=$(date +%s%N)
    ensure_packages
    load_settings
    if pid=$(pid_alive); then
        log "already running (pid $pid, port $PORT)"
        print_env
        return 0
    fi
    port_open "$PORT" && die "port $HOST:$PORT is already in use by another process (set HELPDESK_TEST_PG_PORT)"
    prepare_state
    init_cluster
    write_config
    print_env >"$STATE/env"
    # a postmaster.pid left by a killed server: its pid may be a zombie (PID 1 here
    # reaps late), which postgres would take for a running postmaster
    rm -f "$DATA/postmaster.pid"
    # -w: wait until the server accepts connections; the server's own fds go to the log
    if ! as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$STATE/log/postgres.log" -w -t 60 start \
        </dev/null >>"$STATE/log/pg_ctl.out" 2>&1; then
        tail -20 "$STATE/log/postgres.log" "$STATE/log/pg_ctl.out" >&2 2>/dev/null || true
        die "postgres did not start"
    fi
    pid=$(pid_alive) || die "postgres started but $DATA/postmaster.pid names no running postmaster"
    bootstrap || die "could not create the test role and databases"
    log "ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $pid, port $PORT)"
    print_env
}

cmd_stop() {
    load_settings
    local pid i
    if ! pid=$(pid_alive); then
        log "not running"
        return 0
    fi
    ensure_packages
    # fast shutdown: active sessions are disconnected, no checkpoint wait for fsync
    as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 10 stop </dev/null >>"$STATE/log/pg_ctl.out" 2>&1 || true
    for i in $(seq 1 20); do
        pid_alive >/dev/null || break
        sleep 0.1
    done
    if pid_alive >/dev/null; then
        log "postgres $pid did not stop in 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped (pid $pid)"
}

cmd_status() {
    load_settings
    local pid
    if pid=$(pid_alive); then
        echo "running (pid $pid, $HOST:$PORT, state $STATE)"
    else
        echo "stopped (state $STATE)"
        return 3
    fi
}

cmd_reset() {
    load_settings
    pid_alive >/dev/null || die "not running"
    ensure_packages
    psql_admin -v db="$PG_DB" -v tpl="$PG_TEMPLATE" -v prefix="$PER_TEST_PREFIX" <<'SQL'
SELECT format('DROP DATABASE %I WITH (FORCE)', datname) FROM pg_database
 WHERE datname IN (:'db', :'tpl') OR starts_with(datname, :'prefix') \gexec
SQL
    bootstrap
    log "databases $PG_DB and $PG_TEMPLATE recreated empty"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    env) load_settings; [ -f "$STATE/env" ] || log "warning: not started yet; printing defaults"; print_env ;;
    reset) cmd_reset ;;
    *) echo "usage: $0 start|stop|restart|status|env|reset" >&2; exit 2 ;;
esac
