#!/usr/bin/env bash
# Builds (once) and prints the tag of a Debian bookworm image with PostgreSQL and Redis, for
# the e2e tests that need real servers in containers. No registry can be reached here, so the
# image is made from a root filesystem: `debootstrap --variant=minbase` from the Debian mirror
# apt already uses, trimmed, then `docker import`ed.
#
# The image is cached: it is tagged probe-e2e-debian:<hash of suite, packages and this
# recipe> and reused while that tag exists, so only the first run pays for it (about 3-4
# minutes on 2 cores; about 240 MB). `docker rmi` the tag (or set PROBE_E2E_REBUILD_DEBIAN=1)
# to build it again. Needs root (debootstrap) and the debootstrap package (installed if missing).
#
# Usage: tests/docker/debian-image.sh   -> prints the image tag on stdout, progress on stderr
set -euo pipefail

SUITE=bookworm
PACKAGES=(postgresql redis-server)
# Bump when the recipe below changes in a way that changes the image.
RECIPE=2

log() { printf 'debian-image: %s\n' "$*" >&2; }

hash=$(printf '%s\n' "$SUITE" "${PACKAGES[@]}" "recipe $RECIPE" | sha256sum | cut -c1-12)
tag="probe-e2e-debian:$hash"

if [[ ${PROBE_E2E_REBUILD_DEBIAN:-0} != 1 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
    log "reusing cached $tag"
    echo "$tag"
    exit 0
fi

# The mirror apt uses (deb822 `URIs:` or one-line `deb URI suite` form), unless overridden.
mirror=${PROBE_E2E_MIRROR:-}
if [[ -z $mirror ]]; then
    mirror=$( { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } |
        awk -v suite="$SUITE" '
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && uri ~ /\/debian\/?$/) { print uri; exit } }
            /^deb / { u = ($2 ~ /^\[/) ? $3 : $2; s = ($2 ~ /^\[/) ? $4 : $3; if (s == suite && u ~ /\/debian\/?$/) { print u; exit } }')
fi
[[ -n $mirror ]] || { log "no Debian $SUITE mirror found in apt's sources; set PROBE_E2E_MIRROR"; exit 1; }

if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi

work=$(mktemp -d /var/tmp/probe-e2e-debian.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/root"
start=$SECONDS
log "debootstrap $SUITE (minbase + ${PACKAGES[*]}) from $mirror: first run only, takes a few minutes"
if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" \
        "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    [[ -f $root/debootstrap/debootstrap.log ]] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
fi

# Trim what a test server never reads.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/debootstrap
# PostgreSQL's JIT is the largest part (LLVM, z3: ~130 MB) and no test needs it: without its
# provider the server runs with JIT off.
rm -rf "$root"/usr/lib/x86_64-linux-gnu/libLLVM* "$root"/usr/lib/x86_64-linux-gnu/libz3.so* \
    "$root"/usr/lib/postgresql/*/lib/llvmjit* "$root"/usr/lib/postgresql/*/lib/bitcode \
    "$root"/usr/share/i18n
# The package's own cluster is not used: each test starts initdb in a fresh directory.
rm -rf "$root"/var/lib/postgresql/*/main "$root"/etc/postgresql/*/main

tar -C "$root" --numeric-owner -c . |
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'LABEL probe-e2e-cache=1' \
        --message "probe e2e: debootstrap $SUITE minbase + ${PACKAGES[*]}" \
        - "$tag" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$tag")
log "built $tag in $((SECONDS - start))s, $((size / 1000000)) MB"
echo "$tag"
