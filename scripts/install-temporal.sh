#!/usr/bin/env bash
# Makes the Temporal CLI (dev server) available to the project, in this order:
#   1. $TEMPORAL_CLI, or `temporal` on PATH;
#   2. where Go is installed: build it into .data/bin with `go install ...@v1.5.1`
#      (newer tags carry a replace directive and cannot be installed that way);
#   3. otherwise nothing here: scripts/services/temporal.ts falls back to the SDK's own download,
#      which works on machines with internet access.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="v1.5.1"
if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "${TEMPORAL_CLI}" ]; then echo "temporal CLI: ${TEMPORAL_CLI}"; exit 0; fi
if command -v temporal >/dev/null 2>&1; then echo "temporal CLI: $(command -v temporal)"; exit 0; fi
if [ -x "$root/.data/bin/temporal" ]; then echo "temporal CLI: $root/.data/bin/temporal"; exit 0; fi
export PATH="$PATH:/usr/local/go/bin"
if command -v go >/dev/null 2>&1; then
  echo "building the Temporal CLI ${version} with Go (a few minutes the first time)..."
  mkdir -p "$root/.data/bin"
  GOBIN="$root/.data/bin" go install "github.com/temporalio/cli/cmd/temporal@${version}"
  echo "temporal CLI: $root/.data/bin/temporal"
  exit 0
fi
echo "No temporal CLI and no Go toolchain: the SDK will download a dev server at start (needs internet)." >&2
