# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this
# Shared settings and helpers for scripts/stack and scripts/test.
# Source it after setting CCAF_REPO_ROOT (the repository's top directory).

: "${CCAF_REPO_ROOT:?set CCAF_REPO_ROOT before sourcing common.sh}"

CCAF_LIB_DIR="$CCAF_REPO_ROOT/scripts/lib"
CCAF_STACK_DIR="${CCAF_STACK_DIR:-$CCAF_REPO_ROOT/.stack}"
CCAF_TOOLS_DIR="${CCAF_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccaf-housekeeping}"
CCAF_TOOLS_VENV="$CCAF_TOOLS_DIR/venv"
# The Table API example app's environment (uv sync of examples/flight-consolidator-tableapi).
CCAF_TABLEAPI_VENV="$CCAF_TOOLS_DIR/tableapi-venv"
CCAF_TABLEAPI_DIR="$CCAF_REPO_ROOT/examples/flight-consolidator-tableapi"
CCAF_TANSU_VERSION="0.6.0"
CCAF_TANSU_ROOT="$CCAF_TOOLS_DIR/tansu-$CCAF_TANSU_VERSION"
CCAF_TANSU_BIN="$CCAF_TANSU_ROOT/bin/tansu"
# Mermaid's own parser, run headless under node, for the tests of the diagrams in the summary.
CCAF_MERMAID_VERSION="11.17.2"
CCAF_JSDOM_VERSION="26.1.0"
CCAF_MERMAID_DIR="$CCAF_TOOLS_DIR/mermaid-$CCAF_MERMAID_VERSION"
CCAF_MERMAID_PARSE="$CCAF_MERMAID_DIR/parse.mjs"

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

# A Java runtime for the Table API plugin (it starts a JVM) and its keytool: Debian's
# openjdk-17-jre-headless when `java` is missing (root, or sudo without a password).
ccaf_ensure_java() {
    command -v java >/dev/null 2>&1 && command -v keytool >/dev/null 2>&1 && return 0
    local sudo=()
    command -v apt-get >/dev/null 2>&1 || ccaf_die "no java and no apt-get: install a Java 17 runtime (keytool included)"
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || ccaf_die "no java, and neither root nor sudo to install openjdk-17-jre-headless"
        sudo=(sudo -n)
    fi
    ccaf_log "installing a Java runtime (openjdk-17-jre-headless)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        openjdk-17-jre-headless </dev/null >&2
}

ccaf_elapsed() {
    local start="$1" end
    end="$(ccaf_now)"
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }'
}
