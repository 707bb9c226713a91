#!/usr/bin/env bash
# Builds the release binaries, runs the load suite of issue #7 (about 10 minutes on a
# 2-core machine) and rewrites the suite section of BENCHMARKS.md (between
# <!-- suite:begin --> and <!-- suite:end -->) and the plots in docs/bench/.
#
# Environment:
#   PREV_REV   the previous build to compare with (default: the parent of the last
#              commit that changed the server's code, web client aside); "none" to
#              leave it out.
#   POSTGRES   PostgreSQL server URL for scenario 5 (default below); "none" skips it.
#   REPS       interleaved repetitions of the relay scenarios (default 2).
#   QUICK=1    a much shorter run (minutes), for trying the script.
#   BENCHMARKS the Markdown file whose suite section is rewritten (default
#              BENCHMARKS.md; the markers are appended when missing).
#   PLOTS      the folder the plots are written to (default docs/bench).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

POSTGRES=${POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
REPS=${REPS:-2}
OUT=target/bench
RESULTS=$OUT/results.jsonl
BENCHMARKS=${BENCHMARKS:-BENCHMARKS.md}
PLOTS=${PLOTS:-docs/bench}
mkdir -p "$OUT" "$PLOTS"
: > "$RESULTS"

echo "== building release binaries" >&2
cargo build --release -p duet -p duet-bench
BENCH=target/release/duet-bench

# The previous build, in a worktree with a target dir of its own that is kept between
# runs (so only the first run pays a full build).
PREV_ARGS=()
PREV_NOTE="not measured (PREV_REV=none)"
if [ "${PREV_REV:-}" != "none" ]; then
  # The server's code only: web-client commits also touch crates/duet but would give a
  # "previous" server identical to this one.
  PREV_REV=${PREV_REV:-$(git rev-list -n1 HEAD -- crates/duet/src crates/duet/migrations \
    crates/duet/Cargo.toml ':!crates/duet/src/http/web.rs')~1}
  PREV_SHA=$(git rev-parse --short "$PREV_REV")
  PREV_DIR=$OUT/prev-src
  PREV_TARGET=$PWD/target/bench-prev
  git worktree remove --force "$PREV_DIR" 2>/dev/null || true
  # Seed its target dir with a copy of ours: the dependencies are the same builds, so
  # only the previous duet crate compiles.
  if [ ! -d "$PREV_TARGET/release" ]; then
    mkdir -p "$PREV_TARGET" && cp -a target/release "$PREV_TARGET/release"
  fi
  if git worktree add --detach "$PREV_DIR" "$PREV_REV" >&2 \
     && (cd "$PREV_DIR" && CARGO_TARGET_DIR=$PREV_TARGET cargo build --release -p duet) >&2; then
    PREV_ARGS=(--prev-bin "$PREV_TARGET/release/duet")
    PREV_NOTE="\`$PREV_SHA\` ($PREV_REV), built in a worktree, measured as \`prev\`"
  else
    PREV_NOTE="\`$PREV_SHA\` could not be built; not measured"
  fi
  git worktree remove --force "$PREV_DIR" 2>/dev/null || true
fi

if [ "${QUICK:-0}" = 1 ]; then
  IDLE=(--conns 1000,2000 --reps 1)
  THRU=(--rooms 10,100 --secs 2 --reps 1)
  LAT=(--rates 2000,5000 --rooms 50 --secs 2 --reps 1)
  MM=(--waiting 1000 --direct 1000,100000 --rates 100,1000 --secs 1 --reps 1)
  PERS=(--rates 2000 --rooms 50 --secs 2 --reps 1)
  STORM=(--rates 10,25 --secs 2 --reps 1)
  RECONNECT=(--clients 200 --reps 1)
else
  IDLE=(--conns 2000,6000,10000,14000,18000 --reps 1)
  THRU=(--rooms 10,100,1000 --secs 3 --reps "$REPS")
  LAT=(--rates 1000,2000,5000,10000,20000 --rooms 100 --secs 3 --reps "$REPS")
  MM=(--waiting 1000,10000 --direct 1000,10000,100000 --rates 100,1000 --secs 2 --reps 1)
  PERS=(--rates 1000,5000 --rooms 100 --secs 3 --reps "$REPS")
  STORM=(--rates 10,25,50 --secs 3 --reps 1)
  RECONNECT=(--clients 5000 --reps 1)
fi

COMMON=(--server-bin target/release/duet --relay-bin target/release/duet-refrelay --out "$RESULTS")
declare -a COMMANDS=()
run() {
  COMMANDS+=("duet-bench $*")
  echo "== duet-bench $*" >&2
  # A scenario that sees loss or errors exits 1; the report shows it, so go on.
  "$BENCH" "$@" "${COMMON[@]}" > /dev/null || echo "(exit $?)" >&2
}

START=$(date +%s)
run idle "${IDLE[@]}" "${PREV_ARGS[@]}"
run throughput "${THRU[@]}" "${PREV_ARGS[@]}"
run throughput "${THRU[@]}" --window 4 "${PREV_ARGS[@]}"
run latency "${LAT[@]}" "${PREV_ARGS[@]}"
run matchmaking "${MM[@]}" "${PREV_ARGS[@]}"
if [ "$POSTGRES" != none ]; then
  run persistence --postgres "$POSTGRES" "${PERS[@]}"
fi
run storm "${STORM[@]}" "${PREV_ARGS[@]}"
run reconnect "${RECONNECT[@]}"
END=$(date +%s)

PRE=$OUT/preamble.md
{
  echo "Run on $(date -u +%Y-%m-%d) at commit \`$(git rev-parse --short HEAD)\`$(git diff --quiet HEAD -- crates || echo ' (with uncommitted changes)'), $(( (END - START) / 60 )) min."
  echo
  echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(free -h | awk '/Mem:/ {print $2}') RAM, Linux $(uname -r); shared and noisy, so read the ratios within the run, not the absolute numbers."
  echo "- Load average at the start of the report: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "- Previous build: $PREV_NOTE."
  echo "- Client and server share the machine: the generator's own CPU competes with the server's."
  echo
  echo "Commands (\`crates/duet-bench/run-suite.sh\`; each also got \`${COMMON[*]}\`):"
  echo
  echo '```sh'
  for c in "${COMMANDS[@]}"; do echo "$c"; done
  echo '```'
} > "$PRE"

"$BENCH" report --input "$RESULTS" --benchmarks "$BENCHMARKS" --plots "$PLOTS" --preamble "$PRE"
echo "== wrote $BENCHMARKS and $PLOTS/*.png from $RESULTS" >&2
