# Sourced by the Go pipelines (go9.sh, go9-selfplay.sh): legs that outlive the machine.
# A development session lasts about 3 hours and a checkout on another machine keeps only
# committed files, so what a later leg needs goes into KEEP (a folder committed after each
# leg), packed when a step ends or is stopped with SIGTERM or Ctrl-C. Without KEEP nothing is
# packed and TIMES (set by the script) alone records the legs.

keep_pack() {  # keep_pack NAME DIR TAR-ARGS...: DIR's files as KEEP/NAME.tar.gz (atomic)
  local name=$1 dir=$2
  shift 2
  [ -n "${KEEP:-}" ] && [ -d "$dir" ] || return 0
  mkdir -p "$KEEP"
  tar -czf "$KEEP/$name.tar.gz.part" -C "$dir" "$@"
  mv "$KEEP/$name.tar.gz.part" "$KEEP/$name.tar.gz"
}

keep_unpack() {  # keep_unpack NAME DIR: KEEP/NAME.tar.gz into DIR, where DIR is missing
  [ -n "${KEEP:-}" ] && [ ! -d "$2" ] && [ -f "$KEEP/$1.tar.gz" ] || return 0
  mkdir -p "$2" && tar -xzf "$KEEP/$1.tar.gz" -C "$2"
}

log_time() {  # log_time STEP SECONDS STATUS: a JSON line in TIMES; the model name alone
  # ("AMD EPYC") does not tell Zen 3 from Zen 4 or 5, whose speeds differ 2x: family and model do
  printf '{"step": "%s", "seconds": %d, "ended": "%s", "status": "%s", "cpu": "%s", "cpu_id": "%s", "cores": %d}\n' \
    "$1" "$2" "$(date -u +%FT%TZ)" "$3" "$(lscpu | sed -n 's/^Model name: *//p')" \
    "$(lscpu | awk -F': *' '/^CPU family:/ {f = $2} /^Model:/ {m = $2} END {print "family " f " model " m}')" \
    "$(nproc)" >> "$TIMES"
}

ON_STOP=:  # what a stopped step keeps before the script exits
timed() {  # timed STEP COMMAND...: the command, its wall time logged whether it ends or is
  # stopped (SIGTERM or Ctrl-C; SIGKILL logs nothing: the run's own metrics keep its times),
  # so the legs' lines sum to the pipeline's time; a stop runs ON_STOP, then exits 143
  local step=$1 t0=$SECONDS
  mkdir -p "$(dirname "$TIMES")"
  shift
  "$@" &
  local pid=$!
  trap 'kill -TERM $pid 2>/dev/null; wait $pid || :; log_time "$step" $((SECONDS - t0)) stopped
        $ON_STOP; exit 143' TERM INT HUP
  wait $pid
  trap - TERM INT HUP
  log_time "$step" $((SECONDS - t0)) done
}
