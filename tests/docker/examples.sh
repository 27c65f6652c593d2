#!/usr/bin/env bash
# Checks examples/ (and the probe lines of README.md):
# - every compose file passes `docker-compose config -q` (and `docker compose config -q` where
#   installed) with the minimal environment of examples.env;
# - every YAML and JSON file parses; Kubernetes manifests pass `kubernetes-validate --strict`
#   (PyPI, offline); every Dockerfile has known instructions, JSON exec forms,
#   and runs probe in exec form only;
# - every probe command line found in them (probe_lines.py) is accepted by probe itself in
#   dry-run mode: PROBE_DRY_RUN=1 parses and validates, prints nothing, exits 0 (3 on error).
# Needs no Docker engine. Prints ok/FAIL lines and "N passed, N failed"; exits 1 on failure.
#
#   bash tests/docker/examples.sh            (PROBE_BIN=path to use a built binary)
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO" || exit 1

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }

if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "examples.sh: installing PyYAML" >&2
    python3 -m pip install --quiet pyyaml >&2 2>/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml; } >&2
fi

PROBE=${PROBE_BIN:-$("$REPO/scripts/target-dir")/x86_64-unknown-linux-musl/release/probe}
if [[ ! -x $PROBE ]]; then
    cargo build --release --locked >&2 || { bad "cargo build --release --locked"; echo "examples: $passed passed, $failed failed"; exit 1; }
fi

# Compose files: compose's own validation, with the minimal environment.
composes=()
command -v docker-compose >/dev/null && composes+=("docker-compose")
docker compose version >/dev/null 2>&1 && composes+=("docker compose")
((${#composes[@]})) || bad "neither docker-compose nor docker compose is installed"
while IFS= read -r -d '' f; do
    for c in "${composes[@]}"; do
        if out=$($c --env-file "$HERE/examples.env" -f "$f" config -q 2>&1); then
            ok "$c config -q $f"
        else
            bad "$c config -q $f: $out"
        fi
    done
done < <(find examples -type f \( -name '*compose*.yml' -o -name '*compose*.yaml' \) -print0 | sort -z)

# YAML and JSON parse; Kubernetes documents have apiVersion and kind; ECS task definitions
# have containerDefinitions.
while IFS= read -r -d '' f; do
    if out=$(python3 - "$f" <<'PY' 2>&1
import json, sys, yaml
path = sys.argv[1]
if path.endswith(".json"):
    doc = json.load(open(path))
    if "containerDefinitions" in doc:
        assert all("name" in c and "image" in c for c in doc["containerDefinitions"]), "container without name or image"
else:
    for doc in yaml.safe_load_all(open(path)):
        if isinstance(doc, dict) and ("apiVersion" in doc or "kind" in doc):
            assert doc.get("apiVersion") and doc.get("kind") and doc.get("metadata", {}).get("name"), "Kubernetes document without apiVersion, kind or metadata.name"
PY
    ); then
        ok "parses: $f"
    else
        bad "does not parse: $f: $(tail -n 1 <<<"$out")"
    fi
done < <(find examples -type f \( -name '*.yml' -o -name '*.yaml' -o -name '*.json' \) -print0 | sort -z)

# Kubernetes manifests against the API's schema, offline (the package bundles the schemas):
# --strict rejects a field the API does not have, which kubectl would drop or refuse.
if ! command -v kubernetes-validate >/dev/null; then
    echo "examples.sh: installing kubernetes-validate" >&2
    python3 -m pip install --quiet kubernetes-validate >&2 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages kubernetes-validate >&2
fi
while IFS= read -r -d '' f; do
    grep -q '^apiVersion:' "$f" || continue
    if out=$(kubernetes-validate --strict --quiet "$f" 2>&1); then
        ok "kubernetes-validate --strict $f"
    else
        bad "kubernetes-validate --strict $f: $(grep -m 3 ERROR <<<"$out")"
    fi
done < <(find examples -type f \( -name '*.yml' -o -name '*.yaml' \) -print0 | sort -z)

# Every file that holds a probe exec form yields at least one probe line (the extraction
# misses nothing obvious).
lines=$(python3 "$HERE/probe_lines.py" examples README.md 2>&1)
while IFS= read -r -d '' f; do
    if grep -q "\"/probe\"" "$f"; then
        if grep -q "\"where\": \"$f" <<<"$lines"; then
            ok "probe lines found in $f: $(grep -c "\"where\": \"$f" <<<"$lines")"
        else
            bad "no probe line extracted from $f, which runs /probe"
        fi
    fi
done < <(find examples -type f \( -name "Dockerfile*" -o -name "*.Dockerfile" -o -name "*.yml" -o -name "*.yaml" -o -name "*.json" \) -print0 | sort -z)

# Every probe line, validated by probe.
out=$(python3 "$HERE/probe_lines.py" --check "$PROBE" "$HERE/examples.env" examples README.md 2>&1)
printf '%s\n' "$out"
passed=$((passed + $(grep -c '^ok ' <<<"$out")))
failed=$((failed + $(grep -c '^FAIL ' <<<"$out")))
grep -qE '^(ok|FAIL) ' <<<"$out" || bad "probe_lines.py --check: $out"

echo "examples: $passed passed, $failed failed"
((failed == 0))
