#!/usr/bin/env bash
# The packaging stage of Dockerfile.scratch, for both platforms: builds the whole file with
# `--build-arg PROBE_FROM=dist --platform linux/amd64` and `linux/arm64` from the dist/
# binaries of scripts/build-release (the compile stage needs the Rust image, which cannot be
# pulled here; BuildKit never builds a stage the target does not need), then checks each image:
#
#   - `docker image inspect` says Os linux and Architecture amd64 / arm64,
#   - Config.User is 65534:65534 and the entrypoint is /probe,
#   - it is one layer holding only /probe: a regular file owned by 0:0, mode 0555,
#     byte-identical to the dist/ binary, a static ELF for that architecture,
#   - it runs (`--version` names the target) where the engine can run that architecture.
#
#   bash tests/docker/packaging.sh       (tests/docker/run calls it; PROBE_DIST=dir for other binaries)
#
# BuildKit is needed (per-platform args, COPY --chmod): `docker buildx build --load` when
# buildx is installed, else a docker client that still has BuildKit built in (20.10, e.g.
# Debian's docker.io at /usr/bin/docker) with DOCKER_BUILDKIT=1. Images are labelled and
# removed at exit like e2e.sh's. Last line: "packaging: N passed, M failed".
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DIST=${PROBE_DIST:-$REPO/dist}

# The command that builds with BuildKit and loads the result into the engine.
buildkit_build() {
    if docker buildx version >/dev/null 2>&1; then
        docker buildx build --load "$@"
        return
    fi
    local cli
    for cli in docker /usr/bin/docker; do
        command -v "$cli" >/dev/null || continue
        local v
        v=$("$cli" version --format '{{.Client.Version}}' 2>/dev/null) || continue
        # From 23.0 the client needs the buildx plugin for BuildKit.
        if [[ ${v%%.*} =~ ^[0-9]+$ ]] && ((${v%%.*} < 23)); then
            DOCKER_BUILDKIT=1 "$cli" build "$@"
            return
        fi
    done
    log "no BuildKit: neither 'docker buildx' nor a docker client older than 23.0 is installed"
    return 1
}

# check_image ARCH(amd64|arm64) TRIPLE_ARCH(x86_64|aarch64) ELF_MACHINE
package() {
    local arch=$1 rarch=$2 machine=$3
    local bin="$DIST/probe-$rarch-linux-musl" tag="$PREFIX-pkg:$arch" what="packaging $arch"
    if [[ ! -f $bin ]]; then
        fail "$what: no $bin (run scripts/build-release)"
        return
    fi
    local ctx="$WORK/ctx-$arch"
    mkdir -p "$ctx/dist"
    cp "$REPO/Dockerfile.scratch" "$REPO/.dockerignore" "$ctx/"
    cp "$bin" "$ctx/dist/"
    if ! buildkit_build -q --platform "linux/$arch" --build-arg PROBE_FROM=dist --label "$LABEL" \
            -f "$ctx/Dockerfile.scratch" -t "$tag" "$ctx" >"$WORK/build-$arch.log" 2>&1; then
        tail -n 20 "$WORK/build-$arch.log" >&2
        fail "$what: docker build --platform linux/$arch --build-arg PROBE_FROM=dist"
        return
    fi
    pass "$what: docker build --platform linux/$arch --build-arg PROBE_FROM=dist -f Dockerfile.scratch"

    local facts
    facts=$(docker image inspect -f '{{.Os}}/{{.Architecture}} user={{.Config.User}} entrypoint={{json .Config.Entrypoint}}' "$tag")
    log "$what: docker image inspect: $facts"
    check "$what: image Os/Architecture is linux/$arch ($facts)" [ "${facts%% *}" = "linux/$arch" ]
    check "$what: Config.User is 65534:65534" grep -q ' user=65534:65534 ' <<<"$facts"
    check "$what: entrypoint is [\"/probe\"]" grep -q 'entrypoint=\["/probe"\]$' <<<"$facts"

    docker save "$tag" >"$WORK/$arch.tar" || { fail "$what: docker save"; return; }
    local out
    if out=$(python3 - "$WORK/$arch.tar" "$bin" "$machine" <<'PY'
import hashlib, io, json, struct, sys, tarfile
image, dist, machine = sys.argv[1], sys.argv[2], int(sys.argv[3])
outer = tarfile.open(image)
manifest = json.load(outer.extractfile("manifest.json"))
layers = manifest[0]["Layers"]
if len(layers) != 1:
    sys.exit(f"{len(layers)} layers, expected 1")
layer = tarfile.open(fileobj=io.BytesIO(outer.extractfile(layers[0]).read()))
members = [m for m in layer.getmembers() if m.name.strip("/") not in ("", ".")]
names = [m.name for m in members]
if names != ["probe"]:
    sys.exit(f"files {names}, expected only probe")
m = members[0]
if not m.isfile() or (m.uid, m.gid) != (0, 0) or m.mode & 0o7777 != 0o555:
    sys.exit(f"/probe is type {m.type!r} uid {m.uid} gid {m.gid} mode {m.mode:o}, expected a file 0:0 0555")
data = layer.extractfile(m).read()
if hashlib.sha256(data).digest() != hashlib.sha256(open(dist, "rb").read()).digest():
    sys.exit("/probe differs from the dist binary")
e_machine, = struct.unpack_from("<H", data, 18)
if data[:4] != b"\x7fELF" or e_machine != machine:
    sys.exit(f"ELF machine {e_machine}, expected {machine}")
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
if any(struct.unpack_from("<I", data, phoff + i * phentsize)[0] == 3 for i in range(phnum)):
    sys.exit("/probe has a program interpreter (not static)")
print(f"only /probe, root:root 0555, {len(data)} bytes, static ELF machine {machine}, same as dist")
PY
    ); then
        pass "$what: $out"
    else
        fail "$what: image content: $out"
    fi

    # Run it where the engine can: natively, or through a registered binfmt emulator.
    local host
    host=$(docker version -f '{{.Server.Arch}}' 2>/dev/null)
    if [[ $host == "$arch" || -e /proc/sys/fs/binfmt_misc/qemu-$rarch ]]; then
        out=$(timeout 60 docker run --rm --label "$LABEL" --name "$PREFIX-run-$arch" --network none "$tag" --version 2>&1)
        check "$what: docker run IMAGE --version says target $rarch-unknown-linux-musl" \
            grep -q "^target: $rarch-unknown-linux-musl$" <<<"$out"
    else
        log "$what: not run: the engine is $host and no binfmt emulator for $rarch is registered (tests/arm64/run runs the binary under qemu)"
    fi
}

if ! timeout 20 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    fail "packaging: the Docker engine does not answer"
else
    package amd64 x86_64 62
    package arm64 aarch64 183
fi
((FAILED == 0)) || printf 'failed: %s\n' "${FAILURES[@]}"
echo "packaging: $PASSED passed, $FAILED failed"
((FAILED == 0))
