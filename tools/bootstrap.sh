#!/usr/bin/env bash
# tools/bootstrap.sh -- set up everything the djpatch_multidb test-suite needs
# on a Debian 12 (bookworm) machine, as root:
#
#   a. a Python 2.7 interpreter (Debian 11 "bullseye" packages python2.7 and
#      python2.7-dev, pinned so that nothing else is taken from bullseye);
#      for the Python 3 stack, the machine's python3 instead;
#   b. Debian packages mariadb-server, libmariadb-dev, pkg-config, gcc & co.;
#   c. a cached virtualenv with Django, nose and mysqlclient, for one of the
#      stacks in STACKS below (default 1.1: Python 2.7 + Django 1.1.4).
#
# Idempotent; a second run only checks and takes a few seconds.
#
# Usage:
#   PY=$(tools/bootstrap.sh | tail -n 1)     # last stdout line = venv python
#   . tools/bootstrap.sh                     # exports DJPATCH_MULTIDB_PYTHON
#   PY=$(DJPATCH_MULTIDB_STACK=4.2 tools/bootstrap.sh | tail -n 1)
#
# All progress messages go to stderr.  Environment knobs:
#   DJPATCH_MULTIDB_STACK    which stack (see STACKS below): 1.1 (default),
#                            1.4, 1.8, 1.11 (Python 2.7) or 4.2 (python3)
#   DJPATCH_MULTIDB_REQUIREMENTS  replaces the stack's requirement list
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
# The stacks: name, interpreter, requirement list (pip arguments, no spaces
# inside one).  "python2.7" means the Python 2.7 found below; "python3" the
# machine's python3 (the one on PATH, else /usr/bin/python3).
# Changing a list changes the venv hash below, so a new virtualenv gets built;
# the 1.1 venv's hash is the same as before stacks existed.
# pynose is a Python 3.10+-compatible fork of nose 1.3.7 that installs the
# same "nose" module (python -m nose, nose.plugins.skip.SkipTest, package and
# module fixtures, the same summary lines).
# import-linter (Python 3 only) checks the package's layer contract
# (.importlinter) for ./run_tests.sh.
# Django 1.4.22's setup.py refuses bdist_wheel on purpose, so pip prints
# "Failed building wheel for Django" and installs it the legacy way: harmless.
STACKS='
1.1   python2.7  Django==1.1.4 nose==1.3.7 mysqlclient==1.4.6
1.4   python2.7  Django==1.4.22 nose==1.3.7 mysqlclient==1.4.6
1.8   python2.7  Django==1.8.19 nose==1.3.7 mysqlclient==1.4.6
1.11  python2.7  Django==1.11.29 nose==1.3.7 mysqlclient==1.4.6
4.2   python3    Django>=4.2,<4.3 pynose==1.5.5 mysqlclient==2.2.8 import-linter==2.17
'
STACK=${DJPATCH_MULTIDB_STACK:-1.1}
STACK_PY=$(printf '%s\n' "$STACKS" | awk -v n="$STACK" '$1 == n { print $2 }')
STACK_REQUIREMENTS=$(printf '%s\n' "$STACKS" | awk -v n="$STACK" '$1 == n { $1 = ""; $2 = ""; sub(/^ +/, ""); print }')
if [ -z "$STACK_PY" ]; then
    printf 'bootstrap: ERROR: unknown DJPATCH_MULTIDB_STACK=%s; accepted: %s\n' "$STACK" \
        "$(printf '%s\n' "$STACKS" | awk 'NF { printf "%s%s", sep, $1; sep = ", " }')" >&2
    exit 2
fi
# DJPATCH_MULTIDB_REQUIREMENTS replaces the stack's list (bench/ uses it for a
# Django 1.11 virtualenv beside the 1.1.4 one).
REQUIREMENTS=${DJPATCH_MULTIDB_REQUIREMENTS:-$STACK_REQUIREMENTS}
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

write_venv_pip_conf() {  # write_venv_pip_conf VENV
    # This machine's pip config (file:// indexes, find-links, a constraints
    # file) makes pip 20.3 on 2.7 fail; the venv's own pip.conf (read after
    # the global and user ones) clears those settings for later pip calls too.
    printf '%s\n' '[global]' 'find-links =' 'extra-index-url =' 'constraint =' \
        'disable-pip-version-check = true' 'no-python-version-warning = true' >"$1/pip.conf"
}

venv_check() {  # venv_check PYTHON -> prints versions, 0 if the venv works
    # (mysqlclient 2.2 has no MySQLdb.__version__; version_info is in all.)
    "$1" -c 'import django, MySQLdb, nose; print("Django %s, MySQLdb %s, nose %s" % (django.get_version(), ".".join(map(str, MySQLdb.version_info[:3])), nose.__version__))'
}

venv_ready() {  # venv_ready: 0 if $VENV was completed for $REQUIREMENTS and still works
    local stamp=$VENV/.djpatch-multidb-complete versions
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$REQUIREMENTS" ] && [ -x "$VENV/bin/python" ]; then
        if versions=$(venv_check "$VENV/bin/python" 2>/dev/null); then
            log "venv ok: $VENV ($versions)"
            return 0
        fi
        log "venv $VENV is broken; rebuilding"
    fi
    return 1
}

venv_install() {  # venv_install: $REQUIREMENTS into the new $VENV, checked, then stamped complete
    local versions
    local -a reqs
    write_venv_pip_conf "$VENV"
    log "pip install $REQUIREMENTS"
    read -r -a reqs <<<"$REQUIREMENTS"
    PIP_CACHE_DIR=$CACHE_DIR/pip-cache \
        pip_env "$VENV/bin/python" -m pip install -q "${reqs[@]}" >&2 \
        || die "pip install into $VENV failed"
    versions=$(venv_check "$VENV/bin/python") || die "the new venv $VENV does not import django, MySQLdb, nose"
    log "venv ready: $VENV ($versions)"
    printf '%s\n' "$REQUIREMENTS" >"$VENV/.djpatch-multidb-complete"
}

ensure_py27_venv() {
    local key
    # The key covers the requirement list and the interpreter it is built on.
    key=$(printf '%s\n%s\n%s\n' "$REQUIREMENTS" "$VIRTUALENV_REQ" "$PY27" | sha256sum | cut -c1-12)
    VENV=$CACHE_DIR/py27-$key
    venv_ready && return 0
    ensure_bootstrap_venv
    log "creating py2.7 virtualenv $VENV ($PY27)"
    rm -rf "$VENV"
    pip_env "$BOOT/bin/virtualenv" -q --no-periodic-update -p "$PY27" "$VENV" >&2 \
        || die "virtualenv -p $PY27 $VENV failed"
    # mysqlclient 1.4.6 runs "mysql_config" and falls back to "mariadb_config"
    # (libmariadb-dev) by itself, so no shim is needed.
    venv_install
}

# ------------------------------------------------------------------ the python3 stack
py3_stack_ok() {  # py3_stack_ok PYTHON -> 0 if it is a CPython >= 3.8 (Django 4.2's minimum)
    [ -n "$1" ] && "$1" -c 'import sys; assert sys.version_info >= (3, 8)' >/dev/null 2>&1
}

debian_py3_packages() {  # debian_py3_packages PYTHON: venv (ensurepip) and Python.h for Debian's python3
    local py=$1 v need=""
    case $(readlink -f "$py") in /usr/bin/python3*) ;; *) return 0 ;; esac
    v=$("$py" -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
    "$py" -c 'import ensurepip' >/dev/null 2>&1 || need="$need python3-venv $v-venv"
    "$py" -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
        >/dev/null 2>&1 || need="$need python3-dev $v-dev"
    [ -z "$need" ] && return 0
    # shellcheck disable=SC2086
    apt_install $need
}

find_stack_python3() {
    # The machine's python3: the one on PATH (a pyenv shim is resolved to the
    # real interpreter), else Debian's, installed if need be.
    local p real
    for p in "$(command -v python3 2>/dev/null || true)" /usr/bin/python3; do
        py3_stack_ok "$p" || continue
        real=$("$p" -c 'import sys; print(sys.executable)' 2>/dev/null) || continue
        py3_stack_ok "$real" || continue
        STACK_PY3=$real; break
    done
    if [ -z "${STACK_PY3:-}" ]; then
        [ -x /usr/bin/python3 ] && die "/usr/bin/python3 is older than 3.8 (Django 4.2 needs 3.8+)"
        apt_install python3 python3-venv python3-dev
        py3_stack_ok /usr/bin/python3 || die "no python3 >= 3.8 found"
        STACK_PY3=/usr/bin/python3
    fi
    debian_py3_packages "$STACK_PY3"
    "$STACK_PY3" -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
        >/dev/null 2>&1 || die "$STACK_PY3 has no Python.h (needed to build mysqlclient)"
}

ensure_py3_venv() {
    local key pyver
    pyver=$("$STACK_PY3" -c 'import sys; print(sys.version.split()[0])')
    # The key covers the requirement list and the interpreter (path and version).
    key=$(printf '%s\n%s\n%s\n' "$REQUIREMENTS" "$STACK_PY3" "$pyver" | sha256sum | cut -c1-12)
    VENV=$CACHE_DIR/py3-$key
    venv_ready && return 0
    log "creating python3 venv $VENV ($STACK_PY3, $pyver)"
    rm -rf "$VENV"
    "$STACK_PY3" -m venv "$VENV" >&2 || die "$STACK_PY3 -m venv $VENV failed"
    # mysqlclient 2.2 finds libmariadb through pkg-config (libmariadb-dev).
    venv_install
}

# ------------------------------------------------------------------ main
if [ -n "${DJPATCH_MULTIDB_REQUIREMENTS:-}" ]; then
    log "stack $STACK: $STACK_PY, $REQUIREMENTS (from DJPATCH_MULTIDB_REQUIREMENTS)"
else
    log "stack $STACK: $STACK_PY, $REQUIREMENTS"
fi
case $STACK_PY in
    python2.7)
        find_python27
        log "python2.7: $PY27"
        # shellcheck disable=SC2086
        ensure_deb_packages $DEB_PACKAGES
        ensure_py27_venv
        ;;
    python3)
        # shellcheck disable=SC2086
        ensure_deb_packages $DEB_PACKAGES
        find_stack_python3
        log "python3: $STACK_PY3"
        ensure_py3_venv
        ;;
    *) die "stack $STACK: unknown interpreter $STACK_PY" ;;
esac
printf '%s\n' "$VENV/bin/python"
