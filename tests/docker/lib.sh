# shellcheck shell=bash
# Helpers for the Docker end-to-end tests (sourced by e2e.sh).
#
# Everything a run creates carries the label probe-e2e.run=$RUN_ID and a name starting with
# $PREFIX, and is removed by `cleanup` (an EXIT trap), whatever happened. Runs on the same
# engine (other worktrees, CI) never touch each other's resources.

RUN_ID=${PROBE_E2E_RUN_ID:-$(date +%H%M%S)$$$RANDOM}
RUN_ID=${RUN_ID//[^a-z0-9]/}
PREFIX="pe2e-$RUN_ID"
LABEL="probe-e2e.run=$RUN_ID"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/probe-e2e.XXXXXX")
COMPOSE_PROJECTS=()

PASSED=0
FAILED=0
FAILURES=()
declare -A SUMMARY=()

now() { date +%s.%N; }
# seconds between two `now` readings, 2 decimals
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

pass() {
    PASSED=$((PASSED + 1))
    printf 'ok   %s\n' "$*"
}
fail() {
    FAILED=$((FAILED + 1))
    FAILURES+=("$*")
    printf 'FAIL %s\n' "$*"
}
# check "description" cmd args...: passes when the command exits 0
check() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# Runs docker, and on failure shows what it said; output goes to stdout.
dk() {
    local out rc
    out=$(docker "$@" 2>&1)
    rc=$?
    if ((rc != 0)); then
        printf 'docker %s: exit %d: %s\n' "$1" "$rc" "$(tail -n 5 <<<"$out")" >&2
        return "$rc"
    fi
    [[ -n $out ]] && printf '%s\n' "$out"
    return 0
}

# build TAG CONTEXT_DIR [DOCKERFILE]: a local image, labelled for cleanup
build() {
    local tag=$1 ctx=$2 file=${3:-$2/Dockerfile}
    if ! docker build -q --label "$LABEL" -f "$file" -t "$tag" "$ctx" >"$WORK/build.log" 2>&1; then
        log "docker build $tag failed:"
        grep -v '^DEPRECATED\|legacy builder\|Install the buildx\|docs.docker.com/go/buildx\|^ *$' "$WORK/build.log" | tail -n 20 >&2
        return 1
    fi
}

# wait_for SECONDS cmd args...: polls every 0.2s until the command succeeds
wait_for() {
    local limit=$1 start=$SECONDS
    shift
    until "$@"; do
        ((SECONDS - start >= limit)) && return 1
        sleep 0.2
    done
}

# inspect CONTAINER GO_TEMPLATE
inspect() { docker inspect -f "$2" "$1" 2>/dev/null; }
is_running() { [[ $(inspect "$1" '{{.State.Running}}') == true ]]; }
is_exited() { [[ $(inspect "$1" '{{.State.Status}}') == exited ]]; }
health() { inspect "$1" '{{if .State.Health}}{{.State.Health.Status}}{{end}}'; }
# logs_contain CONTAINER TEXT: 0 when the logs contain TEXT, 1 when they do not, 2 (with a
# message) when the logs cannot be read at all, so that "the app never ran" is never
# concluded from a failed `docker logs`.
logs_contain() {
    local logs
    if ! logs=$(docker logs "$1" 2>&1); then
        echo "cannot read the logs of $1: $logs" >&2
        return 2
    fi
    grep -q -- "$2" <<<"$logs"
}

# compose PROJECT_DIR args...: docker-compose (v1) or `docker compose`, whichever
# $COMPOSE names, with the project's name registered for cleanup.
compose() {
    local dir=$1
    shift
    local project
    project=$(basename "$dir")
    # Bounded: `up` waits for healthchecks, and a hung engine must not hang the run.
    timeout 300 $COMPOSE -p "$project" --project-directory "$dir" -f "$dir/docker-compose.yml" "$@"
}
register_project() { COMPOSE_PROJECTS+=("$1"); }

# Removes every container, network, volume and image of this run (by label, compose
# project and name prefix), then the scratch directory. Safe to call twice.
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    log "cleaning up run $RUN_ID"
    local f ids id
    # docker ORs filters of the same key only, so each filter is its own query.
    for f in "label=$LABEL" "name=$PREFIX" "${COMPOSE_PROJECTS[@]/#/label=com.docker.compose.project=}"; do
        ids=$(docker ps -aq --filter "$f" 2>/dev/null)
        [[ -n $ids ]] && docker rm -f -v $ids >/dev/null 2>&1
        ids=$(docker network ls -q --filter "$f" 2>/dev/null)
        [[ -n $ids ]] && docker network rm $ids >/dev/null 2>&1
        ids=$(docker volume ls -q --filter "$f" 2>/dev/null)
        [[ -n $ids ]] && docker volume rm -f $ids >/dev/null 2>&1
    done
    # Images (and the intermediate layers of this run's builds, labelled too): a parent cannot
    # go before its children, so repeat while that makes progress.
    local pass before=-1 count
    for pass in 1 2 3 4 5; do
        ids=$(docker images -q -a --filter "label=$LABEL" 2>/dev/null | sort -u)
        count=$(wc -w <<<"$ids")
        ((count == 0 || count == before)) && break
        before=$count
        for id in $ids; do docker rmi -f "$id" >/dev/null 2>&1; done
    done
    if [[ ${PROBE_E2E_REMOVE_DEBIAN:-0} == 1 && -n ${DEBIAN_IMAGE:-} ]]; then
        docker rmi "$DEBIAN_IMAGE" >/dev/null 2>&1
    fi
    local left
    left=$( (docker ps -aq --filter "label=$LABEL"; docker network ls -q --filter "label=$LABEL";
        docker images -q --filter "label=$LABEL") 2>/dev/null | wc -l)
    ((left > 0)) && log "cleanup: $left resources of run $RUN_ID could not be removed"
    rm -rf "$WORK"
    exit "$rc"
}
