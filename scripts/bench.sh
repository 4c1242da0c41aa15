#!/usr/bin/env bash
# Run pagelab's benchmarks and build the report.
#
#   scripts/bench.sh [all|criterion|quick|ir|report] [-- ARGS...]
#
#   all        (default) criterion, then ir, then report
#   criterion  the criterion groups (put_page, alloc_free, scaling, offline):
#              cargo bench -p pagelab-bench [-- ARGS], e.g. -- --save-baseline before
#   quick      the same in the CI smoke configuration (PAGELAB_BENCH_QUICK=1)
#   ir         instruction counts under Valgrind/Callgrind (gungraun): installs
#              valgrind (apt-get) and gungraun-runner (cargo install, the same
#              version as the gungraun library in Cargo.lock) when missing
#   report     pagelab report: reports/ from the saved results (no re-run)
#
# Never set `-C target-cpu=native` for the ir benches: Valgrind has no
# AVX-512 and dies with SIGILL on such binaries; this script refuses to run
# them with it in RUSTFLAGS.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

what="${1:-all}"
shift || true
if [[ "${1:-}" == "--" ]]; then
    shift
fi
extra=("$@")

say() {
    printf '\n==== %s ====\n' "$*"
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "bench.sh: need root to run: $*" >&2
        return 1
    fi
}

ensure_valgrind() {
    if command -v valgrind >/dev/null; then
        return
    fi
    say "installing valgrind (apt-get)"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind
}

# The gungraun library version the workspace resolved (Cargo.lock).
gungraun_version() {
    awk '/^name = "gungraun"$/ { found = 1; next } found && /^version = / { gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

ensure_runner() {
    local want have
    want="$(gungraun_version)"
    if [[ -z "$want" ]]; then
        echo "bench.sh: no gungraun in Cargo.lock" >&2
        return 1
    fi
    have="$(gungraun-runner --version 2>/dev/null | awk '{ print $2 }' || true)"
    if [[ "$have" == "$want" ]]; then
        return
    fi
    say "installing gungraun-runner $want (cargo install; had: ${have:-none})"
    cargo install gungraun-runner --version "$want" --locked
}

# The load average before and after each criterion run, for the report's
# meta.json and pages: wall times on a 2-core machine mean little if
# something else was running.
load_file="${CARGO_TARGET_DIR:-target}/criterion/pagelab-load.txt"

run_criterion() {
    say "criterion: cargo bench -p pagelab-bench ${extra[*]:+-- ${extra[*]}}"
    cargo build --release -p pagelab-bench --benches
    mkdir -p "$(dirname "$load_file")"
    # A full run starts the file afresh; a filtered one (ARGS) appends to it.
    if [[ ${#extra[@]} -eq 0 ]]; then
        : >"$load_file"
    fi
    echo "start $(date -u +%FT%TZ) $(cut -d' ' -f1-3 /proc/loadavg)${extra[*]:+ args: ${extra[*]}}" >>"$load_file"
    if [[ ${#extra[@]} -gt 0 ]]; then
        cargo bench -p pagelab-bench -- "${extra[@]}"
    else
        cargo bench -p pagelab-bench
    fi
    echo "end $(date -u +%FT%TZ) $(cut -d' ' -f1-3 /proc/loadavg)" >>"$load_file"
}

run_ir() {
    if [[ "${RUSTFLAGS:-} ${CARGO_ENCODED_RUSTFLAGS:-}" == *target-cpu=native* ]]; then
        echo "bench.sh: RUSTFLAGS has target-cpu=native; Valgrind cannot run such binaries (no AVX-512)" >&2
        return 1
    fi
    ensure_valgrind
    ensure_runner
    say "instruction counts: cargo bench -p pagelab-bench --features gungraun --bench ir"
    GUNGRAUN_SAVE_SUMMARY=json cargo bench -p pagelab-bench --features gungraun --bench ir
}

run_report() {
    say "report: pagelab report"
    cargo run --release -p pagelab -- report
}

case "$what" in
    all)
        run_criterion
        run_ir
        run_report
        ;;
    criterion) run_criterion ;;
    quick) PAGELAB_BENCH_QUICK=1 run_criterion ;;
    ir) run_ir ;;
    report) run_report ;;
    *)
        echo "usage: scripts/bench.sh [all|criterion|quick|ir|report] [-- ARGS...]" >&2
        exit 2
        ;;
esac
