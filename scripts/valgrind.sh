#!/usr/bin/env bash
# Runs the SIMD backend's conformance tests under valgrind memcheck
# (issue 6, item 6): every unsafe load/store of the hand-written kernels is
# checked for out-of-bounds and uninitialised reads on hostile shapes and
# layouts, f32 and f64, one and two threads.
#
# valgrind cannot execute AVX-512, so the level is forced to AVX2+FMA with
# DSPGD_SIMD=v3 (env_level runs the kit at exactly that level and fails if
# it is not available); the conformance test also runs every level valgrind
# reports (scalar and v3). Any memcheck error, or a definite leak, fails
# the script (--error-exitcode=1).
#
# Needs: apt-get install -y valgrind. Usage: scripts/valgrind.sh [test ...]
# (default: env_level conformance). About 2-3 minutes on 2 cores after the
# test binaries are built.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 2; }

tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(env_level conformance)

export DSPGD_SIMD=v3
status=0
for t in "${tests[@]}"; do
    # The path of the test binary, from cargo's JSON messages (builds it if
    # needed). The whole workspace, as `cargo test --workspace` builds it:
    # `-p dspgd-simd` alone could resolve other dependency features and rebuild.
    bin=$(cargo test --workspace --locked --no-run --message-format=json 2>/dev/null |
        grep '"package_id":"[^"]*backends/simd#' | grep "\"name\":\"$t\"" |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    [ -n "$bin" ] || { echo "cannot build the test binary '$t'" >&2; exit 2; }
    echo "== valgrind memcheck: $t (DSPGD_SIMD=$DSPGD_SIMD)"
    start=$SECONDS
    if valgrind --tool=memcheck --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite --quiet "$bin" --test-threads=1; then
        echo "== $t: no memcheck error ($((SECONDS - start)) s)"
    else
        echo "== $t: FAILED under memcheck ($((SECONDS - start)) s)" >&2
        status=1
    fi
done
exit $status
