#!/usr/bin/env bash
# Fuzzing (issue #16 item 8): builds every cargo-fuzz target under fuzz/ once, then
# runs each for FUZZ_SECONDS (default 30) from its committed seeds (fuzz/corpus/<name>),
# failing on the first crash, panic, timeout or out-of-memory. What each target checks
# is in docs/testing.md. New inputs go to a scratch folder, so the committed corpora
# stay the small hand-made sets; a crash's input is kept in fuzz/artifacts/<name>/.
#
# cargo-fuzz needs nightly flags (-Zsanitizer, sancov); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain take them.
#
# Build choices, for time on two shared cores:
# - `--sanitizer none`: the code fuzzed is safe Rust, where AddressSanitizer has
#   nothing to find that a panic does not already report; without it every crate
#   compiles and runs faster (and no sanitizer runtime is needed).
# - `--dev`: unoptimised, with debug assertions and overflow checks on (an arithmetic
#   overflow is a crash, as in the tests). The build is the dependency tree of the
#   whole server (sqlx, axum, tokio, image...) and is this script's cost: cold on an
#   idle machine, 2 min 14 s (3.5 CPU-min) this way against 5 min 5 s (8.8 CPU-min)
#   optimised with 16 codegen units, and several times that in CI beside the other
#   builds. fuzz/Cargo.toml still optimises the image decoders and the resizer,
#   without which the avatar target would try few inputs (30 s: ~47,000 avatars,
#   ~800,000 frames or bodies, ~76,000 tokens).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
# 0.13 builds with the current stable toolchain (cargo 1.95 here).
CARGO_FUZZ_VERSION=0.13.2
BUILD_FLAGS=(--dev --sanitizer none)

step() { printf '\n==> %s (%s)\n' "$*" "$(date +%T)"; }

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  step "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

step "building the fuzz targets"
start=$SECONDS
cargo fuzz build "${BUILD_FLAGS[@]}"
echo "built in $((SECONDS - start)) s"

mapfile -t TARGETS < <(cargo fuzz list)
if [ "${#TARGETS[@]}" -eq 0 ]; then
  echo "cargo fuzz list found no target" >&2
  exit 1
fi
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
failed=0
passed=0
for target in "${TARGETS[@]}"; do
  step "fuzzing $target for ${FUZZ_SECONDS} s"
  seeds="$PWD/fuzz/corpus/$target"
  test -d "$seeds" || { echo "no seed corpus at $seeds" >&2; exit 1; }
  mkdir -p "$SCRATCH/$target"
  # -timeout: one input taking 20 s is a hang worth failing on, even on a busy machine.
  if cargo fuzz run "${BUILD_FLAGS[@]}" "$target" "$SCRATCH/$target" "$seeds" -- \
    -max_total_time="$FUZZ_SECONDS" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$SCRATCH/$target.log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^Done ' "$SCRATCH/$target.log" || true
    passed=$((passed + 1))
  else
    tail -n 60 "$SCRATCH/$target.log" >&2
    echo "fuzz target $target failed; its input is in fuzz/artifacts/$target/" >&2
    failed=$((failed + 1))
  fi
done
step "fuzzing done in $((SECONDS / 60)) min $((SECONDS % 60)) s"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
