# shellcheck shell=bash
# scripts/lib/common.sh -- helpers shared by scripts/run, scripts/test, scripts/testbed and
# scripts/docker-testbed (after swift-nio's IntegrationTests/test_functions.sh: one sourced file
# of small functions, no side effects when sourced). Sourced, never run.
#
#   say/die/now/since       logging to stderr with a clock and the $SVC tag; elapsed seconds
#   port_open PORT          something listens on 127.0.0.1:PORT
#   pid_of PIDFILE WORD     the pid in PIDFILE if that process lives and its command line has WORD
#   spawn PIDFILE LOG CMD…  start CMD detached in its own session, pid into PIDFILE
#   wait_until NAME SECS CMD…   poll CMD until it succeeds (bounded)
#   apt_missing PKG…        the packages dpkg does not have installed
#   apt_install LOG PKG…    install the missing ones (root), or say which and exit 2
#   venv_pip VENV LOG ARG…  create VENV from Debian's python3 if needed, then pip install ARG…
#   rdkafka_so PYTHON       the librdkafka 2.16 shared object inside that python's confluent-kafka
#   ld_library_path DIR     $LD_LIBRARY_PATH with DIR first (once)
#   remove_stale_ldconf     drop the ld.so.conf.d entry older scripts/testbed versions wrote

: "${SVC:=${0##*/}}"
say()   { printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "$SVC" "$*" >&2; }
die()   { say "ERROR: $*"; exit 1; }
now()   { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_of PIDFILE WORD: prints the pid if it is running, else nothing (and returns 1). WORD must
# appear in /proc/PID/cmdline, which guards against a recycled pid.
pid_of() {
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(head -n1 "$1" | tr -dc 0-9)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
  echo "$pid"
}

# spawn PIDFILE LOG CMD...: start CMD detached in its own session (so a stop can signal the
# whole group and the caller's shell/job control cannot kill it); record its pid in PIDFILE.
spawn() {
  local pidfile="$1" log="$2"; shift 2
  ( close_inherited_fds; exec setsid "$@" >>"$log" 2>&1 </dev/null ) &
  echo $! >"$pidfile"
}

# close_inherited_fds: in a subshell about to exec a long-lived server, close every descriptor
# above 2 it inherited (a caller's `flock LOCK scripts/testbed up` would otherwise keep LOCK held
# for as long as the server runs).
close_inherited_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd="${fd##*/}"
    [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

# wait_until NAME TIMEOUT CMD...: run CMD every 0.2 s until it succeeds; returns 1 after TIMEOUT
# seconds, or at once if NAME's process died (when the caller defines `svc_pid NAME`; NAME `-`
# skips that check).
wait_until() {
  local name="$1" timeout="$2"; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  while (( $(date +%s) < deadline )); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [[ "$name" != - ]] && declare -F svc_pid >/dev/null && ! svc_pid "$name" >/dev/null; then
      say "$name process exited during start-up"; return 1
    fi
    sleep 0.2
  done
  say "$name not ready after ${timeout}s"; return 1
}

# apt_missing PKG...: prints (one per line) the packages that are not installed.
apt_missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

# apt_install LOG PKG...: installs the missing packages with apt-get (output to LOG) when root;
# otherwise prints the exact command to run as root and exits 2. Package scripts are kept from
# starting the distro's services (no init system here; the scripts start their own servers).
apt_install() {
  local log="$1" missing=() rc=0 policy_added=0; shift
  mapfile -t missing < <(apt_missing "$@")
  ((${#missing[@]})) || return 0
  if [[ $EUID -ne 0 ]]; then
    say "missing Debian packages: ${missing[*]}"
    say "install them as root, then run this again:"
    printf '    apt-get update && apt-get install -y --no-install-recommends %s\n' "${missing[*]}" >&2
    exit 2
  fi
  local t0; t0="$(now)"
  say "apt-get install ${missing[*]}"
  mkdir -p "$(dirname "$log")"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; policy_added=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
      >>"$log" 2>&1 || rc=$?
  ((policy_added)) && rm -f /usr/sbin/policy-rc.d
  if ((rc)); then tail -n 20 "$log" >&2; die "apt-get failed (log: $log)"; fi
  say "apt done in $(since "$t0")s"
}

# venv_pip VENV LOG PIP-INSTALL-ARGS...: creates VENV from Debian's python3 if it has none,
# then `pip install` into it (output to LOG; its tail and exit 1 on failure).
venv_pip() {
  local venv="$1" log="$2"; shift 2
  if [[ ! -x "$venv/bin/python" ]]; then
    local base=/usr/bin/python3; [[ -x $base ]] || base="$(command -v python3)"
    say "creating venv $venv ($("$base" --version 2>&1))"
    "$base" -m venv "$venv" || die "python3 -m venv failed"
  fi
  "$venv/bin/python" -m pip install --disable-pip-version-check -q "$@" >"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "pip install failed (log: $log)"; }
}

# rdkafka_so PYTHON: the path of librdkafka-<hash>.so.1 (2.16) inside PYTHON's confluent-kafka
# wheel; returns 1 if there is none.
rdkafka_so() {
  local sp so
  sp="$("$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null)" || return 1
  so="$(ls "$sp"/confluent_kafka.libs/librdkafka-*.so.1 2>/dev/null | head -n1)"
  [[ -n "$so" ]] && echo "$so"
}

# ld_library_path DIR: prints $LD_LIBRARY_PATH with DIR first and nowhere else, so that `env`
# output can be eval'd any number of times. This is how the test processes, and only they,
# load librdkafka 2.16 (DIR/librdkafka.so.1) instead of Debian's 2.0.2.
ld_library_path() {
  local out="$1" p
  local IFS=:
  for p in ${LD_LIBRARY_PATH:-}; do [[ -n "$p" && "$p" != "$1" ]] && out+=":$p"; done
  echo "$out"
}

# Versions of scripts/testbed before this library registered its librdkafka directory with the
# dynamic loader for the whole machine. Remove that one file (only if it is ours: it names an
# rdkafka-lib directory) and refresh the loader cache.
STALE_LDCONF=/etc/ld.so.conf.d/cdcctl-testbed-rdkafka.conf
remove_stale_ldconf() {
  [[ -f $STALE_LDCONF ]] || return 0
  grep -qx '/.*/rdkafka-lib' "$STALE_LDCONF" || return 0
  if [[ $EUID -ne 0 ]]; then
    say "$STALE_LDCONF was left by an older scripts/testbed; as root: rm $STALE_LDCONF && ldconfig"
    return 0
  fi
  rm -f "$STALE_LDCONF" && ldconfig && say "removed $STALE_LDCONF (left by an older scripts/testbed)"
}
