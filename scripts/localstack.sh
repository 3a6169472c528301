#!/usr/bin/env bash
# LocalStack (free core) for the emulator tests: start | stop | status.
# Runs without Docker and without an account token as `python -m localstack.runtime.main` in its own Python >= 3.12
# venv (.venv-localstack, git-ignored), bound to 127.0.0.1:4566 only. The PID is recorded so stop ends only it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LOCALSTACK_VENV:-$ROOT/.venv-localstack}"
STATE="$ROOT/.tricloud/localstack"
PIDFILE="$STATE/localstack.pid"
LOG="$STATE/localstack.log"
HOST_PORT="127.0.0.1:4566"
URL="http://$HOST_PORT"
# Pins measured to work together (DESIGN.md section 5).
PINS=("localstack-core[runtime]==2026.3.0" "cbor2<6" "pyopenssl==25.3.0" "cryptography>=45.0.7,<47" "service-identity")
START_TIMEOUT="${LOCALSTACK_START_TIMEOUT:-120}"
STOP_TIMEOUT="${LOCALSTACK_STOP_TIMEOUT:-20}"

find_python() {
  local py
  for py in "${LOCALSTACK_PYTHON:-}" "$(command -v python3.13 || true)" "$(command -v python3.12 || true)"; do
    if [[ -n "$py" ]] && "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    local root v
    root="$(pyenv root)"
    for v in $(ls "$root/versions" 2>/dev/null | sort -rV); do
      py="$root/versions/$v/bin/python3"
      if [[ -x "$py" ]] && "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
        echo "$py"; return 0
      fi
    done
  fi
  return 1
}

healthy() {
  curl -fsS --max-time 2 "$URL/_localstack/health" >/dev/null 2>&1
}

running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

install() {
  [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import localstack' 2>/dev/null && return 0
  local py
  py="$(find_python)" || { echo "localstack.sh: needs Python >= 3.12 (python3.12 on PATH or via pyenv)" >&2; exit 1; }
  local t0=$SECONDS
  echo "localstack.sh: building $VENV with $("$py" --version)" >&2
  "$py" -m venv "$VENV"
  # With the project's uv (make install puts it in .venv) this takes seconds instead of about a minute with pip.
  local uv="$ROOT/.venv/bin/uv"
  if [[ "${TRICLOUD_INSTALLER:-uv}" == uv && -x "$uv" ]] && "$uv" pip install -q --compile-bytecode --python "$VENV/bin/python" "${PINS[@]}"; then
    :
  else
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q "${PINS[@]}"
  fi
  echo "localstack.sh: installed in $((SECONDS - t0)) s" >&2
}

start() {
  mkdir -p "$STATE"
  if pid="$(running_pid)"; then
    echo "localstack.sh: already running (pid $pid) at $URL"; return 0
  fi
  if healthy; then
    echo "localstack.sh: something else already answers at $URL; not starting a second one" >&2; exit 1
  fi
  install
  local t0=$SECONDS
  (
    cd "$STATE"
    GATEWAY_LISTEN="$HOST_PORT" GATEWAY_SERVER=hypercorn DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
      LOCALSTACK_VOLUME_DIR="$STATE/volume" \
      nohup "$VENV/bin/python" -m localstack.runtime.main >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
  )
  local deadline=$((SECONDS + START_TIMEOUT))
  until healthy; do
    if ! running_pid >/dev/null; then
      echo "localstack.sh: LocalStack exited during start; last log lines:" >&2; tail -20 "$LOG" >&2; exit 1
    fi
    if (( SECONDS > deadline )); then
      echo "localstack.sh: not healthy after ${START_TIMEOUT} s; see $LOG" >&2; stop; exit 1
    fi
    sleep 1
  done
  echo "localstack.sh: ready at $URL in $((SECONDS - t0)) s (pid $(cat "$PIDFILE"))"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"; echo "localstack.sh: not running"; return 0
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS > deadline )); then
      echo "localstack.sh: still running after ${STOP_TIMEOUT} s, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.5
  done
  rm -f "$PIDFILE"
  echo "localstack.sh: stopped (pid $pid)"
}

status() {
  if pid="$(running_pid)"; then
    if healthy; then echo "running (pid $pid) at $URL"; else echo "starting (pid $pid), not healthy yet"; fi
  else
    echo "not running"; return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  install) install ;;
  *) echo "usage: scripts/localstack.sh start|stop|status|install" >&2; exit 2 ;;
esac
