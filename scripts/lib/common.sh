# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this
# Shared settings and helpers for scripts/stack and scripts/test.
# Source it after setting CCAF_REPO_ROOT (the repository's top directory).

: "${CCAF_REPO_ROOT:?set CCAF_REPO_ROOT before sourcing common.sh}"

CCAF_LIB_DIR="$CCAF_REPO_ROOT/scripts/lib"
CCAF_STACK_DIR="${CCAF_STACK_DIR:-$CCAF_REPO_ROOT/.stack}"
CCAF_TOOLS_DIR="${CCAF_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccaf-housekeeping}"
CCAF_TOOLS_VENV="$CCAF_TOOLS_DIR/venv"
CCAF_TANSU_VERSION="0.6.0"
CCAF_TANSU_ROOT="$CCAF_TOOLS_DIR/tansu-$CCAF_TANSU_VERSION"
CCAF_TANSU_BIN="$CCAF_TANSU_ROOT/bin/tansu"

ccaf_log() {
    printf '[%s] %s\n' "${CCAF_LOG_PREFIX:-ccaf}" "$*" >&2
}

ccaf_die() {
    ccaf_log "error: $*"
    exit 1
}

# Quote a value for POSIX shells: 'it'\''s'.
ccaf_shell_quote() {
    local q="'\\''"
    printf "'%s'" "${1//\'/$q}"
}

# Seconds since the epoch with a fraction, for timings.
ccaf_now() {
    date +%s.%N
}

ccaf_elapsed() {
    local start="$1" end
    end="$(ccaf_now)"
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }'
}
