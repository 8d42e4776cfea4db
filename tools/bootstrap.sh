#!/usr/bin/env bash
# tools/bootstrap.sh -- set up everything the djpatch_multidb test-suite needs
# on a Debian 12 (bookworm) machine, as root:
#
#   a. a Python 2.7 interpreter (Debian 11 "bullseye" packages python2.7 and
#      python2.7-dev, pinned so that nothing else is taken from bullseye);
#   b. Debian packages mariadb-server, libmariadb-dev, pkg-config, gcc & co.;
#   c. a cached Python 2.7 virtualenv with Django, nose and mysqlclient.
#
# Idempotent; a second run only checks and takes a few seconds.
#
# Usage:
#   PY=$(tools/bootstrap.sh | tail -n 1)     # last stdout line = venv python
#   . tools/bootstrap.sh                     # exports DJPATCH_MULTIDB_PYTHON
#
# All progress messages go to stderr.  Environment knobs:
#   PYTHON27                 use this Python 2.7 instead of looking for one
#   DJPATCH_MULTIDB_CACHE    cache dir for the virtualenvs
#                            (default /var/cache/djpatch_multidb)
#   DJPATCH_MULTIDB_NO_APT=1 never call apt-get (fail if something is missing)

# --- sourced: run in a child bash so the caller's shell options stay as they are
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    _djpm_out=$(bash "${BASH_SOURCE[0]}") || { echo "bootstrap.sh failed" >&2; return 1; }
    DJPATCH_MULTIDB_PYTHON=$(printf '%s\n' "$_djpm_out" | tail -n 1)
    export DJPATCH_MULTIDB_PYTHON
    unset _djpm_out
    return 0
fi

set -eu
set -o pipefail

# ------------------------------------------------------------------ settings
# Requirements of the py2.7 test virtualenv.  Changing this list changes the
# hash below, so a new virtualenv gets built.
# DJPATCH_MULTIDB_REQUIREMENTS replaces the list (bench/ uses it for a Django
# 1.11 virtualenv beside the 1.1.4 one).
PY27_REQUIREMENTS=${DJPATCH_MULTIDB_REQUIREMENTS:-"Django==1.1.4 nose==1.3.7 mysqlclient==1.4.6"}
# The last virtualenv release whose embedded pip/setuptools support 2.7.
VIRTUALENV_REQ="virtualenv<20.22"

CACHE_DIR=${DJPATCH_MULTIDB_CACHE:-/var/cache/djpatch_multidb}

APT_SOURCES_FILE=/etc/apt/sources.list.d/djpatch-multidb-bullseye.sources
APT_PREFS_FILE=/etc/apt/preferences.d/djpatch-multidb-bullseye
# Packages that python2.7 + python2.7-dev need and that exist only in
# bullseye.  Everything else in bullseye is pinned to -1 (never installed).
BULLSEYE_ALLOWED="python2.7 python2.7-dev python2.7-minimal libpython2.7 libpython2.7-dev libpython2.7-minimal libpython2.7-stdlib libssl1.1 libffi7"

# Debian (bookworm) packages that have to be there.
DEB_PACKAGES="mariadb-server mariadb-client libmariadb-dev pkg-config gcc libc6-dev ca-certificates"

export DEBIAN_FRONTEND=noninteractive

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "bootstrap: FAILED (exit %s)\n" "$rc" >&2' EXIT

[ "$(id -u)" = 0 ] || die "must run as root (it installs Debian packages)"

# Serialize concurrent runs (two test runs starting at once).
mkdir -p "$CACHE_DIR" || die "cannot create cache dir $CACHE_DIR"
exec 9>"$CACHE_DIR/.bootstrap.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9 || die "cannot lock $CACHE_DIR/.bootstrap.lock"
fi

# ------------------------------------------------------------------ apt helpers
APT_UPDATED=0
apt_update() {
    [ "${DJPATCH_MULTIDB_NO_APT:-0}" = 1 ] && die "apt-get update needed but DJPATCH_MULTIDB_NO_APT=1"
    log "apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
}

deb_installed() {  # deb_installed PKG -> 0 if installed
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

apt_install() {  # apt_install PKG...; updates the lists once if the install fails
    [ "${DJPATCH_MULTIDB_NO_APT:-0}" = 1 ] && die "missing Debian packages: $* (DJPATCH_MULTIDB_NO_APT=1)"
    log "apt-get install $*"
    if ! apt-get install -y -q --no-install-recommends "$@" >&2; then
        [ "$APT_UPDATED" = 1 ] && die "apt-get install $* failed"
        apt_update
        apt-get install -y -q --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
    fi
}

write_if_changed() {  # write_if_changed FILE CONTENT -> 0 if the file changed
    if [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; then
        return 1
    fi
    printf '%s\n' "$2" >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
    return 0
}

# ------------------------------------------------------------------ a. Python 2.7
py27_ok() {  # py27_ok PYTHON -> 0 if it is a working CPython 2.7 with the needed modules
    [ -n "$1" ] || return 1
    "$1" -c 'import sys; assert sys.version_info[:2] == (2, 7); import ssl, sqlite3, zlib, ctypes' >/dev/null 2>&1
}

setup_bullseye_apt() {
    local changed=0 p sources prefs
    sources="# Written by djpatch_multidb tools/bootstrap.sh: Debian 11 is used only
# for python2.7 (see $APT_PREFS_FILE).
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bullseye-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    # Specific-form records win over general ones (apt_preferences(5)), so
    # only the listed packages can come from bullseye.
    prefs="# Written by djpatch_multidb tools/bootstrap.sh.
# Take only python2.7 and the bullseye-only libraries it needs from Debian 11.
Package: $BULLSEYE_ALLOWED
Pin: release n=bullseye
Pin-Priority: 500

Package: $BULLSEYE_ALLOWED
Pin: release n=bullseye-security
Pin-Priority: 500

Package: *
Pin: release n=bullseye
Pin-Priority: -1

Package: *
Pin: release n=bullseye-security
Pin-Priority: -1"
    write_if_changed "$APT_PREFS_FILE" "$prefs" && { log "wrote $APT_PREFS_FILE"; changed=1; }
    write_if_changed "$APT_SOURCES_FILE" "$sources" && { log "wrote $APT_SOURCES_FILE"; changed=1; }
    if [ "$changed" = 1 ] || ! ls /var/lib/apt/lists/*_debian_dists_bullseye_main_binary-*_Packages* >/dev/null 2>&1; then
        apt_update
    fi
}

bullseye_only_installed() {
    # Print the installed packages whose installed version comes only from
    # bullseye (not also from bookworm), using apt-cache policy.
    # shellcheck disable=SC2046
    apt-cache policy $(dpkg-query -W -f='${db:Status-Status} ${Package}\n' | awk '$1=="installed"{print $2}') 2>/dev/null \
      | awk '
        function flush() { if (pkg != "" && bull && !book) print pkg; bull = 0; book = 0 }
        /^[^ ].*:$/      { flush(); pkg = substr($0, 1, length($0) - 1); inst = 0; next }
        /^ \*\*\* /       { inst = 1; next }
        /^     [^ ]/     { inst = 0; next }
        inst && / bullseye/ { bull = 1 }
        inst && / bookworm/ { book = 1 }
        END { flush() }'
}

check_bullseye_origin() {  # check_bullseye_origin BEFORE_LIST
    # Packages that came from bullseye in this run must be on the allow-list.
    # (Compared with the list before the install: an old bookworm version can
    # carry the same version string as bullseye's, e.g. libgraphite2-3.)
    local bad="" got="" pkg
    for pkg in $(bullseye_only_installed); do
        case " $1 " in *" $pkg "*) continue ;; esac
        got="$got ${pkg%%:*}"
        case " $BULLSEYE_ALLOWED " in
            *" ${pkg%%:*} "*) ;;
            *) bad="$bad $pkg" ;;
        esac
    done
    [ -z "$bad" ] || die "packages installed from bullseye that are not on the allow-list:$bad"
    log "installed from bullseye:$got"
}

install_python27_apt() {
    local before
    [ "${DJPATCH_MULTIDB_NO_APT:-0}" = 1 ] && return 1
    log "installing python2.7 + python2.7-dev from Debian 11 (bullseye)"
    # In subshells: an apt failure makes us fall back to another python2.7.
    if ( setup_bullseye_apt ); then
        before=$(bullseye_only_installed | tr '\n' ' ')
        if ( apt_install python2.7 python2.7-dev ); then
            check_bullseye_origin "$before"
            return 0
        fi
    fi
    log "WARNING: installing python2.7 from bullseye failed"
    return 1
}

find_python27() {
    local p
    if [ -n "${PYTHON27:-}" ]; then
        py27_ok "$PYTHON27" || die "PYTHON27=$PYTHON27 is not a working Python 2.7 (with ssl, sqlite3, zlib, ctypes)"
        PY27=$PYTHON27; return 0
    fi
    if py27_ok /usr/bin/python2.7; then
        # python2.7-dev (Python.h) is needed to build mysqlclient.
        deb_installed python2.7-dev || install_python27_apt || die "python2.7-dev is missing"
        PY27=/usr/bin/python2.7; return 0
    fi
    if [ ! -e /usr/bin/python2.7 ]; then
        if install_python27_apt && py27_ok /usr/bin/python2.7; then
            PY27=/usr/bin/python2.7; return 0
        fi
        log "no /usr/bin/python2.7 from apt; looking elsewhere"
    fi
    p=$(command -v python2.7 2>/dev/null || true)
    if py27_ok "$p"; then PY27=$p; return 0; fi
    for p in /root/.pyenv/versions/2.7*/bin/python2.7; do
        if py27_ok "$p"; then PY27=$p; return 0; fi
    done
    die "no working Python 2.7 found (set PYTHON27=/path/to/python2.7)"
}

# ------------------------------------------------------------------ b. Debian packages
ensure_deb_packages() {
    local missing="" p
    for p in "$@"; do
        deb_installed "$p" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    # shellcheck disable=SC2086
    apt_install $missing
}

# ------------------------------------------------------------------ c. virtualenvs
# pip must not see this machine's local pip config (find-links, file://
# indexes, constraints): old pip on 2.7 only needs PyPI.
pip_env() {
    env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT \
        PIP_CONFIG_FILE=/dev/null \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_PYTHON_VERSION_WARNING=1 \
        PIP_CERT="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" \
        "$@"
}

find_python3() {
    local p
    for p in /usr/bin/python3 "$(command -v python3 2>/dev/null || true)"; do
        [ -n "$p" ] && "$p" -c 'import sys; assert sys.version_info >= (3, 7)' >/dev/null 2>&1 && { PY3=$p; return 0; }
    done
    # No python3 at all: Debian's.
    apt_install python3 python3-venv
    PY3=/usr/bin/python3
}

ensure_bootstrap_venv() {
    BOOT=$CACHE_DIR/bootstrap-py3
    local stamp=$BOOT/.djpatch-multidb-complete
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$VIRTUALENV_REQ" ] && [ -x "$BOOT/bin/virtualenv" ] \
        && "$BOOT/bin/python" -c 'import virtualenv' >/dev/null 2>&1; then
        return 0
    fi
    find_python3
    # Debian's python3 needs python3-venv (ensurepip) for "python3 -m venv".
    if [ "$PY3" = /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1; then
        local v; v=$(/usr/bin/python3 -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')
        apt_install python3-venv "$v" || apt_install python3-venv
    fi
    log "creating bootstrap venv $BOOT ($PY3)"
    rm -rf "$BOOT"
    if ! "$PY3" -m venv "$BOOT" >&2; then
        [ "$PY3" = /usr/bin/python3 ] || die "$PY3 -m venv failed"
        rm -rf "$BOOT"
        apt_install python3-venv
        /usr/bin/python3 -m venv "$BOOT" >&2 || die "$PY3 -m venv failed"
    fi
    pip_env "$BOOT/bin/python" -m pip install -q "$VIRTUALENV_REQ" >&2 \
        || die "pip install '$VIRTUALENV_REQ' failed"
    printf '%s\n' "$VIRTUALENV_REQ" >"$stamp"
}

venv_check() {  # venv_check PYTHON -> prints versions, 0 if the venv works
    "$1" -c 'import django, MySQLdb, nose; print("Django %s, MySQLdb %s, nose %s" % (django.get_version(), MySQLdb.__version__, nose.__version__))'
}

ensure_py27_venv() {
    local key stamp_content
    # The key covers the requirement list and the interpreter it is built on.
    key=$(printf '%s\n%s\n%s\n' "$PY27_REQUIREMENTS" "$VIRTUALENV_REQ" "$PY27" | sha256sum | cut -c1-12)
    VENV=$CACHE_DIR/py27-$key
    local stamp=$VENV/.djpatch-multidb-complete
    stamp_content="$PY27_REQUIREMENTS"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_content" ] && [ -x "$VENV/bin/python" ]; then
        if versions=$(venv_check "$VENV/bin/python" 2>/dev/null); then
            log "venv ok: $VENV ($versions)"
            return 0
        fi
        log "venv $VENV is broken; rebuilding"
    fi
    ensure_bootstrap_venv
    log "creating py2.7 virtualenv $VENV ($PY27)"
    rm -rf "$VENV"
    pip_env "$BOOT/bin/virtualenv" -q --no-periodic-update -p "$PY27" "$VENV" >&2 \
        || die "virtualenv -p $PY27 $VENV failed"
    # This machine's pip config (file:// indexes, find-links, a constraints
    # file) makes pip 20.3 on 2.7 fail; the venv's own pip.conf (read after
    # the global and user ones) clears those settings for later pip calls too.
    printf '%s\n' '[global]' 'find-links =' 'extra-index-url =' 'constraint =' \
        'disable-pip-version-check = true' 'no-python-version-warning = true' >"$VENV/pip.conf"
    log "pip install $PY27_REQUIREMENTS"
    # mysqlclient 1.4.6 runs "mysql_config" and falls back to "mariadb_config"
    # (libmariadb-dev) by itself, so no shim is needed.
    # shellcheck disable=SC2086
    PIP_CACHE_DIR=$CACHE_DIR/pip-cache \
        pip_env "$VENV/bin/python" -m pip install -q $PY27_REQUIREMENTS >&2 \
        || die "pip install into $VENV failed"
    versions=$(venv_check "$VENV/bin/python") || die "the new venv $VENV does not import django, MySQLdb, nose"
    log "venv ready: $VENV ($versions)"
    printf '%s\n' "$stamp_content" >"$stamp"
}

# ------------------------------------------------------------------ main
find_python27
log "python2.7: $PY27"
ensure_deb_packages $DEB_PACKAGES
ensure_py27_venv
printf '%s\n' "$VENV/bin/python"
