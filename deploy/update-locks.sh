#!/bin/sh
# Regenerate the hash-pinned locks the image installs (Dockerfile: `pip install --require-hashes`):
#   requirements.lock       the runtime dependencies of pyproject.toml, nothing else (the worker image)
#   requirements-sim.lock   the same versions plus the `sim` extra (trustme: the simulator image target)
# Resolved for Linux and the running Python, which must be the image's minor version (3.11). An existing lock
# keeps its pins; pass pip-compile options to move them, e.g. `--upgrade` or `--upgrade-package temporalio`.
# pip-tools runs from a throw-away virtualenv; the locks name no package index (the index is pip's own setting).
set -eu
cd "$(dirname "$0")/.."
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "run with Python 3.11, the image'"'"'s")'
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet "pip-tools>=7.4,<8"
compile() {
  "$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links --no-emit-trusted-host "$@"
}
compile "$@" --output-file requirements.lock pyproject.toml
compile "$@" --extra sim --constraint requirements.lock --output-file requirements-sim.lock pyproject.toml
compile "$@" --only-build-deps --build-deps-for wheel --output-file requirements-build.lock pyproject.toml
