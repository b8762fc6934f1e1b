#!/usr/bin/env bash
# mailserver.sh - a throw-away Dovecot IMAP + POP3 server on 127.0.0.1 for
# helpdesk_mail's integration tests and benchmarks.  No systemd, no files outside $STATE.
#
# Adapted from the team's verified reference script (shared/services/mailserver.sh,
# not part of this repository): same configuration and the same solved pitfalls
# (no anvil auth penalty, daemon detached from the caller's fds, mail uid nobody
# when run as root, private CA + server cert for 127.0.0.1/localhost).  Tests that
# need many messages fast write them straight into $HELPDESK_TEST_MAILDIR/new,
# owned like $STATE/mail/<user> (see tests/integration/conftest.py).
# Additions to the reference configuration:
#   - SASL XOAUTH2/OAUTHBEARER: Dovecot checks the bearer token like a password
#     against the passwd-file, so the user oauth@example.test logs in with the
#     "token" $HELPDESK_TEST_OAUTH_TOKEN (a real provider would introspect it);
#   - a listener pair without any TLS on 127.0.0.2 (`local 127.0.0.2 { ssl = no }`):
#     a real server that does not offer STARTTLS/STLS, to check that the client
#     refuses to go on in plain text when STARTTLS is configured.  Its IMAP also
#     announces no IDLE (a fixed imap_capability), to check that such an account is
#     polled instead of watched.
#
# Usage:  bash mailserver.sh start|stop|restart|status|env|reset|deliver USER <MSG
#
#   start    install dovecot if missing (apt-get), write config + TLS cert +
#            users under $STATE, start dovecot (it daemonizes itself), wait
#            until all four ports answer, then print the env (as `env` does).
#            Idempotent: if our dovecot is already running it just prints env.
#   stop     kill the dovecot master by the PID in $STATE/run/master.pid
#            (SIGTERM, then SIGKILL after 10 s).  Idempotent.  State is kept;
#            `rm -rf "$STATE"` afterwards for a clean slate.
#   env      print `export NAME=value` lines; use:  eval "$(bash mailserver.sh env)"
#   reset    delete every message in every mailbox of every test user (doveadm)
#   deliver  deliver an RFC 822 message from stdin into USER's INBOX with
#            dovecot-lda (like a real MTA would), e.g.
#            bash mailserver.sh deliver helpdesk@example.test < msg.eml
#
# Settings (environment, all optional):
#   HELPDESK_SERVICES_DIR  base dir for all test services   (default /tmp/helpdesk_mail-services)
#   HELPDESK_MAIL_STATE    this server's state dir          (default $HELPDESK_SERVICES_DIR/dovecot)
#   HELPDESK_TEST_IMAP_PORT / _IMAPS_PORT / _POP3_PORT / _POP3S_PORT
#                          listening ports (default 10143 / 10993 / 10110 / 10995)
#   Ports and users are fixed at the first `start` of a state dir and saved
#   in $STATE/env; remove the state dir to change them.
#
# Layout of $STATE:
#   etc/dovecot.conf  etc/users   tls/{ca,server}.{crt,key}   run/ (base_dir,
#   master.pid)   lib/ (state_dir)   log/dovecot.log   mail/<user>/Maildir   env
set -euo pipefail
umask 022   # daemons running as other users must read what we create

BASE="${HELPDESK_SERVICES_DIR:-${TMPDIR:-/tmp}/helpdesk_mail-services}"
STATE="${HELPDESK_MAIL_STATE:-$BASE/dovecot}"
HOST=127.0.0.1

log() { echo "mailserver: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --------------------------------------------------------------------------
# Package install (only when missing).  policy-rc.d keeps the Debian
# maintainer scripts from starting the system-wide dovecot on ports 143/110;
# we create it only if the machine has none, and remove it afterwards.
# --------------------------------------------------------------------------
apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    # one `apt-get update` per machine boot is enough; skip it if lists exist
    if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || [ -n "${HELPDESK_APT_UPDATE:-}" ]; then
        $sudo apt-get update -qq
    fi
    if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
        log "apt-get install failed; retrying after apt-get update"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    fi
    [ "$made_policy" -eq 0 ] || $sudo rm -f /usr/sbin/policy-rc.d
}

ensure_packages() {
    if ! command -v dovecot >/dev/null 2>&1 || [ ! -x /usr/lib/dovecot/imap ] \
        || [ ! -x /usr/lib/dovecot/pop3 ] || ! command -v openssl >/dev/null 2>&1; then
        log "installing dovecot-imapd dovecot-pop3d openssl ..."
        apt_install dovecot-imapd dovecot-pop3d openssl
    fi
}

# --------------------------------------------------------------------------
# Saved settings (ports, users) so that stop/env/reset see what start used.
# --------------------------------------------------------------------------
load_settings() {
    if [ -f "$STATE/env" ]; then
        # shellcheck disable=SC1091
        . "$STATE/env"
    fi
    IMAP_PORT="${HELPDESK_TEST_IMAP_PORT:-10143}"
    IMAPS_PORT="${HELPDESK_TEST_IMAPS_PORT:-10993}"
    POP3_PORT="${HELPDESK_TEST_POP3_PORT:-10110}"
    POP3S_PORT="${HELPDESK_TEST_POP3S_PORT:-10995}"
    MAIL_USER="${HELPDESK_TEST_MAIL_USER:-helpdesk@example.test}"
    MAIL_PASSWORD="${HELPDESK_TEST_MAIL_PASSWORD:-helpdesk-secret}"
    MAIL_USER2="${HELPDESK_TEST_MAIL_USER2:-customer@example.test}"
    MAIL_PASSWORD2="${HELPDESK_TEST_MAIL_PASSWORD2:-customer-secret}"
    OAUTH_USER="${HELPDESK_TEST_OAUTH_USER:-oauth@example.test}"
    OAUTH_TOKEN="${HELPDESK_TEST_OAUTH_TOKEN:-ya29.test-access-token}"
    NOTLS_HOST="${HELPDESK_TEST_NOTLS_HOST:-127.0.0.2}"
    IMAP_NOTLS_PORT="${HELPDESK_TEST_IMAP_NOTLS_PORT:-10144}"
    POP3_NOTLS_PORT="${HELPDESK_TEST_POP3_NOTLS_PORT:-10111}"
}

print_env() {
    cat <<EOF
export HELPDESK_TEST_MAIL_HOST=$HOST
export HELPDESK_TEST_IMAP_PORT=$IMAP_PORT
export HELPDESK_TEST_IMAPS_PORT=$IMAPS_PORT
export HELPDESK_TEST_POP3_PORT=$POP3_PORT
export HELPDESK_TEST_POP3S_PORT=$POP3S_PORT
export HELPDESK_TEST_MAIL_USER=$MAIL_USER
export HELPDESK_TEST_MAIL_PASSWORD=$MAIL_PASSWORD
export HELPDESK_TEST_MAIL_USER2=$MAIL_USER2
export HELPDESK_TEST_MAIL_PASSWORD2=$MAIL_PASSWORD2
export HELPDESK_TEST_OAUTH_USER=$OAUTH_USER
export HELPDESK_TEST_OAUTH_TOKEN=$OAUTH_TOKEN
export HELPDESK_TEST_NOTLS_HOST=$NOTLS_HOST
export HELPDESK_TEST_IMAP_NOTLS_PORT=$IMAP_NOTLS_PORT
export HELPDESK_TEST_POP3_NOTLS_PORT=$POP3_NOTLS_PORT
export HELPDESK_TEST_MAIL_CA_FILE=$STATE/tls/ca.crt
export HELPDESK_TEST_MAIL_STATE=$STATE
export HELPDESK_MAIL_STATE=$STATE
export HELPDESK_TEST_MAILDIR=$STATE/mail/$MAIL_USER/Maildir
EOF
}

# --------------------------------------------------------------------------
# TLS: a private CA plus a server cert for localhost / 127.0.0.1 (EC P-256,
# proper extensions so Python's default verification - including the
# stricter X.509 checks of Python >= 3.13 - accepts it with cafile=ca.crt).
# --------------------------------------------------------------------------
make_tls() {
    local d="$STATE/tls"
    [ -s "$d/server.crt" ] && [ -s "$d/server.key" ] && [ -s "$d/ca.crt" ] && return 0
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$d/ca.key" -out "$d/ca.crt" -days 3650 -subj "/CN=helpdesk_mail test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" 2>/dev/null
    cat >"$d/server.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
        -CAcreateserial -out "$d/server.crt" -days 825 -extfile "$d/server.ext" 2>/dev/null
    chmod 600 "$d"/*.key
}

# --------------------------------------------------------------------------
# Config.  Mail processes may never run as root (hard-coded in dovecot), so
# as root the mailboxes belong to nobody:nogroup; as an ordinary user
# everything runs as that user.
# --------------------------------------------------------------------------
write_config() {
    local uid gid login_user internal_user internal_group
    if [ "$(id -u)" -eq 0 ]; then
        uid=$(id -u nobody); gid=$(getent group nogroup | cut -d: -f3)
        login_user=dovenull; internal_user=dovecot; internal_group=dovecot
    else
        uid=$(id -u); gid=$(id -g)
        login_user=$(id -un); internal_user=$(id -un); internal_group=$(id -gn)
    fi
    # chroot() needs root; as an ordinary user switch it off for the services that use it
    local chroot_line="# (running as root: default chroot)"
    [ "$(id -u)" -eq 0 ] || chroot_line="chroot ="
    mkdir -p "$STATE/etc" "$STATE/run" "$STATE/lib" "$STATE/log" "$STATE/mail"
    chmod 755 "$STATE" "$STATE/mail"
    # our own base dir may have been made under a strict umask (077)
    [ "$(dirname "$STATE")" != "$BASE" ] || [ ! -O "$BASE" ] || chmod a+x "$BASE"
    # the mail uid must be able to walk down to its home directory
    if [ "$(id -u)" -eq 0 ] && ! setpriv --reuid="$uid" --regid="$gid" --clear-groups test -x "$STATE/mail" 2>/dev/null; then
        die "uid $uid cannot traverse to $STATE/mail; choose a HELPDESK_SERVICES_DIR whose parents are world-executable (e.g. under /tmp)"
    fi

    {
        printf '%s:{PLAIN}%s::::::\n' "$MAIL_USER" "$MAIL_PASSWORD"
        printf '%s:{PLAIN}%s::::::\n' "$MAIL_USER2" "$MAIL_PASSWORD2"
        printf '%s:{PLAIN}%s::::::\n' "$OAUTH_USER" "$OAUTH_TOKEN"
    } >"$STATE/etc/users"
    # read by the auth process, which runs as default_internal_user
    chgrp "$internal_group" "$STATE/etc/users"
    chmod 640 "$STATE/etc/users"
    for u in "$MAIL_USER" "$MAIL_USER2" "$OAUTH_USER"; do
        mkdir -p "$STATE/mail/$u"
        chown "$uid:$gid" "$STATE/mail/$u"
    done

    cat >"$STATE/etc/dovecot.conf" <<EOF
# Generated by mailserver.sh - self-contained test config, nothing from /etc/dovecot.
protocols = imap pop3
listen = $HOST $NOTLS_HOST
base_dir = $STATE/run
state_dir = $STATE/lib
instance_name = helpdesk-test-dovecot
log_path = $STATE/log/dovecot.log
info_log_path = $STATE/log/dovecot.log
debug_log_path = $STATE/log/dovecot.log
verbose_proctitle = yes
shutdown_clients = yes

default_login_user = $login_user
default_internal_user = $internal_user
default_internal_group = $internal_group
first_valid_uid = 1
first_valid_gid = 1

# TLS (STARTTLS on the plain ports, implicit TLS on 10993/10995)
ssl = yes
ssl_cert = <$STATE/tls/server.crt
ssl_key = <$STATE/tls/server.key
ssl_min_protocol = TLSv1.2

# Allow LOGIN/USER-PASS without TLS too (loopback tests of the plain ports)
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_verbose = yes
# answer failed logins at once (default 2 s) so negative tests stay fast
auth_failure_delay = 0
# no anvil auth penalty: otherwise the first login after a failed one waits
# 2-15 s (login_trusted_networks did not avoid that in 2.3.19; this does)
service anvil {
  $chroot_line
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $STATE/etc/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $STATE/etc/users
  default_fields = uid=$uid gid=$gid home=$STATE/mail/%u
}

mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = subscribe
  }
}

service imap-login {
  $chroot_line
  inet_listener imap {
    address = $HOST
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $HOST
    port = $IMAPS_PORT
    ssl = yes
  }
  inet_listener imap_notls {
    address = $NOTLS_HOST
    port = $IMAP_NOTLS_PORT
  }
}
service pop3-login {
  $chroot_line
  inet_listener pop3 {
    address = $HOST
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = $HOST
    port = $POP3S_PORT
    ssl = yes
  }
  inet_listener pop3_notls {
    address = $NOTLS_HOST
    port = $POP3_NOTLS_PORT
  }
}

protocol imap {
  # tests open many connections as one user from one IP (default is 10)
  mail_max_userip_connections = 100
  # tell IDLE clients quickly about new mail (inotify makes it near-instant)
  imap_idle_notify_interval = 1 secs
}
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
}
# no TLS at all on the second address: STARTTLS/STLS are not offered there; nor IDLE
local $NOTLS_HOST {
  ssl = no
  protocol imap {
    imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE UIDPLUS MOVE NAMESPACE CHILDREN UNSELECT
  }
}
protocol lda {
  postmaster_address = postmaster@example.test
}
EOF
}

pid_alive() {
    local pidfile="$STATE/run/master.pid" pid
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # make sure the PID is really our dovecot master (PIDs get reused)
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$STATE/etc/dovecot.conf" || return 1
    echo "$pid"
}

# alive and not a zombie (PID 1 here may reap exited daemons late)
proc_running() {
    kill -0 "$1" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != "Z" ]
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
port_open_on() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
# true when a plain-text port answers with a positive greeting ("* OK" / "+OK")
greets() {
    (
        exec 3<>"/dev/tcp/$HOST/$1" || exit 1
        IFS= read -r -t 2 line <&3 || exit 1
        [[ "$line" == "* OK"* || "$line" == "+OK"* ]]
    ) 2>/dev/null
}

cmd_start() {
    local t0 pid
    t0=$(date +%s%N)
    ensure_packages
    load_settings
    if pid=$(pid_alive); then
        log "already running (pid $pid)"
        print_env
        return 0
    fi
    mkdir -p "$STATE"
    for p in "$IMAP_PORT" "$IMAPS_PORT" "$POP3_PORT" "$POP3S_PORT"; do
        port_open "$p" && die "port $HOST:$p is already in use by another process"
    done
    for p in "$IMAP_NOTLS_PORT" "$POP3_NOTLS_PORT"; do
        port_open_on "$NOTLS_HOST" "$p" && die "port $NOTLS_HOST:$p is already in use by another process"
    done
    make_tls
    write_config
    # save the settings for stop/env/reset
    print_env >"$STATE/env"
    rm -f "$STATE/run/master.pid"
    # dovecot forks and the master writes run/master.pid.  Its std fds must not
    # be the caller's: a caller that captures our output (pytest's
    # subprocess.run(capture_output=True), $(...)) would otherwise wait for
    # EOF until dovecot exits.
    if ! dovecot -c "$STATE/etc/dovecot.conf" </dev/null >>"$STATE/log/dovecot.stderr" 2>&1; then
        cat "$STATE/log/dovecot.stderr" >&2
        die "dovecot failed to start"
    fi
    local i ok=0
    for i in $(seq 1 200); do   # up to 20 s
        if pid_alive >/dev/null && greets "$IMAP_PORT" && greets "$POP3_PORT" \
            && port_open "$IMAPS_PORT" && port_open "$POP3S_PORT" \
            && port_open_on "$NOTLS_HOST" "$IMAP_NOTLS_PORT" && port_open_on "$NOTLS_HOST" "$POP3_NOTLS_PORT"; then
            ok=1; break
        fi
        sleep 0.1
    done
    if [ "$ok" -ne 1 ]; then
        tail -20 "$STATE/log/dovecot.log" "$STATE/log/dovecot.stderr" >&2 || true
        die "dovecot did not become ready"
    fi
    log "ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $(pid_alive))"
    print_env
}

# PIDs whose parent is $1 (read from /proc, no procps needed)
children_of() {
    local f
    for f in /proc/[0-9]*/stat; do
        awk -v p="$1" '$4 == p { print $1 }' "$f" 2>/dev/null || true
    done
}

# still one of this instance's processes (PIDs get reused)?
ours() { proc_running "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "helpdesk-test-dovecot"; }

cmd_stop() {
    load_settings
    local pid i c children left
    if ! pid=$(pid_alive); then
        log "not running"
        return 0
    fi
    # The master does not take its mail sessions (imap, pop3), log and stats
    # processes down with it in every case; note their PIDs and stop them too, so
    # that "stopped" really means no client is served any more.
    children=$(children_of "$pid")
    kill -TERM "$pid"
    for i in $(seq 1 100); do
        proc_running "$pid" || break
        sleep 0.1
    done
    if proc_running "$pid"; then
        log "dovecot $pid did not stop in 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for i in $(seq 1 50); do
        left=""
        for c in $children; do
            if ours "$c"; then left="$left $c"; kill -TERM "$c" 2>/dev/null || true; fi
        done
        [ -n "$left" ] || break
        sleep 0.1
    done
    for c in $children; do
        if ours "$c"; then kill -KILL "$c" 2>/dev/null || true; fi
    done
    rm -f "$STATE/run/master.pid"
    log "stopped (pid $pid)"
}

cmd_status() {
    load_settings
    local pid
    if pid=$(pid_alive); then
        echo "running (pid $pid, state $STATE)"
    else
        echo "stopped (state $STATE)"; return 3
    fi
}

cmd_reset() {
    load_settings
    pid_alive >/dev/null || die "not running"
    for u in "$MAIL_USER" "$MAIL_USER2" "$OAUTH_USER"; do
        doveadm -c "$STATE/etc/dovecot.conf" expunge -u "$u" mailbox '*' all
    done
    log "all mailboxes emptied"
}

cmd_deliver() {
    load_settings
    [ $# -ge 1 ] || die "usage: deliver USER < message"
    [ -f "$STATE/etc/dovecot.conf" ] || die "not configured; run start first"
    /usr/lib/dovecot/dovecot-lda -c "$STATE/etc/dovecot.conf" -d "$1" -f "${2:-sender@example.test}"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    env) load_settings; [ -f "$STATE/env" ] || log "warning: not started yet; printing defaults"; print_env ;;
    reset) cmd_reset ;;
    deliver) shift; cmd_deliver "$@" ;;
    *) echo "usage: $0 start|stop|restart|status|env|reset|deliver USER [FROM] <MSG" >&2; exit 2 ;;
esac
