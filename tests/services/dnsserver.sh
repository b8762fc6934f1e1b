#!/usr/bin/env bash
# dnsserver.sh - a throw-away authoritative DNS server (NSD) on 127.0.0.1 for
# helpdesk_mail's SPF tests: UDP and TCP, port 5353 by default, serving every
# tests/services/dns-zones/<zone>.zone.  Nothing outside $STATE is written
# (except installing the nsd package when it is missing).
#
#   bash tests/services/dnsserver.sh start    # install nsd if needed, start, print the env
#   bash tests/services/dnsserver.sh stop     # SIGTERM by pid file (SIGKILL after 10 s)
#   bash tests/services/dnsserver.sh status   # exit 0 if running, 3 if not
#   bash tests/services/dnsserver.sh reload   # re-check the zone files and restart
#   bash tests/services/dnsserver.sh env      # print the env lines again
#
# `start` prints `export HELPDESK_TEST_DNS_HOST=127.0.0.1` and
# `export HELPDESK_TEST_DNS_PORT=5353` for `eval "$(bash dnsserver.sh start)"`;
# it is idempotent, and refuses to start when the port is taken by anything else.
#
# Environment (all optional):
#   HELPDESK_SERVICES_DIR   base of all test-service state (default ${TMPDIR:-/tmp}/helpdesk_mail-services)
#   HELPDESK_DNS_STATE      this server's state dir (default $HELPDESK_SERVICES_DIR/nsd)
#   HELPDESK_DNS_ZONES      dir of <zone>.zone files (default: dns-zones/ next to this script)
#   HELPDESK_TEST_DNS_PORT  port (default 5353; kept in $STATE/env from the first start)
#
# Pitfalls handled (found while building the team's verified reference setup):
# Debian's maintainer script would start a system nsd on port 53 (a temporary
# policy-rc.d prevents it); nsd must not keep the caller's stdout/stderr open
# (a caller capturing our output would wait for nsd to exit); pids are checked
# against this state dir's config (pids are reused) and zombies count as stopped.
set -euo pipefail
umask 022

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BASE="${HELPDESK_SERVICES_DIR:-${TMPDIR:-/tmp}/helpdesk_mail-services}"
STATE="${HELPDESK_DNS_STATE:-$BASE/nsd}"
ZONES="${HELPDESK_DNS_ZONES:-$HERE/dns-zones}"
HOST=127.0.0.1
PYTHON="${HELPDESK_PYTHON:-python3}"

say() { echo "dnsserver: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

install_nsd() {
    command -v nsd >/dev/null 2>&1 && command -v nsd-checkzone >/dev/null 2>&1 && return 0
    local sudo="" policy=0
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    command -v apt-get >/dev/null 2>&1 || die "nsd is missing and there is no apt-get to install it"
    say "installing nsd with apt-get ..."
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod 755 /usr/sbin/policy-rc.d
        policy=1
    fi
    local ok=0
    if ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nsd >/dev/null; then
        ok=1
    else
        $sudo apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nsd >/dev/null &&
            ok=1
    fi
    [ "$policy" -eq 0 ] || $sudo rm -f /usr/sbin/policy-rc.d
    [ "$ok" -eq 1 ] || die "apt-get install nsd failed"
}

read_env() {
    # shellcheck disable=SC1091
    [ -f "$STATE/env" ] && . "$STATE/env"
    PORT="${HELPDESK_TEST_DNS_PORT:-5353}"
}

print_env() {
    printf 'export HELPDESK_TEST_DNS_HOST=%s\nexport HELPDESK_TEST_DNS_PORT=%s\nexport HELPDESK_DNS_STATE=%s\n' \
        "$HOST" "$PORT" "$STATE"
}

running_pid() {
    local pid
    pid="$(cat "$STATE/nsd.pid" 2>/dev/null)" || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$STATE/nsd.conf" || return 1
    echo "$pid"
}

# true when nothing listens on 127.0.0.1:$PORT (UDP and TCP)
port_free() {
    "$PYTHON" - "$HOST" "$PORT" <<'PY'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind((host, port))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
}

# true when the server answers a SOA query for zone $1 with NOERROR and an answer
answers_soa() {
    "$PYTHON" - "$HOST" "$PORT" "$1" <<'PY' 2>/dev/null
import socket, struct, sys
host, port, zone = sys.argv[1], int(sys.argv[2]), sys.argv[3]
query = struct.pack(">HHHHHH", 0x5350, 0, 1, 0, 0, 0)
query += b"".join(bytes([len(p)]) + p.encode() for p in zone.strip(".").split(".")) + b"\0"
query += struct.pack(">HH", 6, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
s.sendto(query, (host, port))
reply = s.recv(4096)
rcode = struct.unpack(">H", reply[2:4])[0] & 0xF
ancount = struct.unpack(">H", reply[6:8])[0]
sys.exit(0 if reply[:2] == query[:2] and rcode == 0 and ancount > 0 else 1)
PY
}

write_config() {
    mkdir -p "$STATE/zones"
    [ -d "$ZONES" ] || die "no zone dir $ZONES (set HELPDESK_DNS_ZONES)"
    rm -f "$STATE/zones/"*.zone
    cp "$ZONES"/*.zone "$STATE/zones/" 2>/dev/null || die "no *.zone files in $ZONES"
    {
        echo "# written by tests/services/dnsserver.sh: a test-only server on loopback"
        echo "server:"
        echo "    ip-address: $HOST@$PORT"
        echo "    port: $PORT"
        echo "    do-ip4: yes"
        echo "    do-ip6: no"
        echo '    username: ""'
        echo '    chroot: ""'
        echo "    zonesdir: \"$STATE/zones\""
        echo '    database: ""'
        echo "    zonelistfile: \"$STATE/zone.list\""
        echo "    xfrdfile: \"$STATE/xfrd.state\""
        echo "    xfrdir: \"$STATE\""
        echo "    pidfile: \"$STATE/nsd.pid\""
        echo "    logfile: \"$STATE/nsd.log\""
        echo "    server-count: 1"
        echo "    verbosity: 1"
        echo "    refuse-any: no"
        echo "    zonefiles-write: 0"
        echo "remote-control:"
        echo "    control-enable: no"
        local f
        for f in "$STATE/zones/"*.zone; do
            printf 'zone:\n    name: "%s"\n    zonefile: "%s"\n' "$(basename "$f" .zone)" "$(basename "$f")"
        done
    } >"$STATE/nsd.conf"
    nsd-checkconf "$STATE/nsd.conf" || die "nsd-checkconf rejected $STATE/nsd.conf"
    local f zone
    for f in "$STATE/zones/"*.zone; do
        zone="$(basename "$f" .zone)"
        if ! nsd-checkzone "$zone" "$f" >/dev/null 2>&1; then
            nsd-checkzone "$zone" "$f" >&2 || true
            die "zone file $(basename "$f") has errors"
        fi
    done
}

do_start() {
    install_nsd
    read_env
    local pid
    if pid="$(running_pid)"; then
        say "already running (pid $pid)"
        print_env
        return 0
    fi
    mkdir -p "$STATE"
    port_free || die "127.0.0.1:$PORT is in use (set HELPDESK_TEST_DNS_PORT to another port)"
    write_config
    print_env >"$STATE/env"
    rm -f "$STATE/nsd.pid"
    nsd -c "$STATE/nsd.conf" </dev/null >>"$STATE/nsd.out" 2>&1 || {
        cat "$STATE/nsd.out" >&2
        die "nsd did not start"
    }
    local first i
    first="$(basename "$(ls "$STATE/zones/"*.zone | head -1)" .zone)"
    for i in $(seq 1 150); do
        if running_pid >/dev/null && answers_soa "$first"; then
            say "ready (pid $(running_pid), port $PORT, zones: $(cd "$STATE/zones" && ls | sed 's/\.zone$//' | tr '\n' ' '))"
            print_env
            return 0
        fi
        sleep 0.1
    done
    tail -20 "$STATE/nsd.log" "$STATE/nsd.out" >&2 2>/dev/null || true
    die "nsd did not answer within 15 s"
}

do_stop() {
    read_env
    local pid i
    if ! pid="$(running_pid)"; then
        say "not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        running_pid >/dev/null || break
        sleep 0.1
    done
    if running_pid >/dev/null; then
        say "pid $pid still there after 10 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/nsd.pid"
    say "stopped (pid $pid)"
}

do_status() {
    read_env
    local pid
    if pid="$(running_pid)"; then
        echo "running (pid $pid, $HOST:$PORT, state $STATE)"
    else
        echo "stopped (state $STATE)"
        return 3
    fi
}

case "${1:-}" in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    reload | restart) do_stop; do_start ;;
    env) read_env; print_env ;;
    *) echo "usage: $0 start|stop|status|reload|env" >&2; exit 2 ;;
esac
