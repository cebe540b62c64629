#!/usr/bin/env bash
# Create (if missing) the project's virtual environment at .venv/ and install imagexform into
# it with the training, desktop-app, server, CPU runtime, OpenVINO, developer, cloud-storage
# and Ray cluster extras (the OpenVINO, object-storage and Ray tests run in CI; pytest-qt
# refuses to start without Qt, so the tests need the app extra). Safe to rerun: it reinstalls only when
# pyproject.toml changed since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
EXTRAS="${IMAGEXFORM_EXTRAS:-train,app,serve,cpu,openvino,dev,cloud,cluster}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.imagexform-setup
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1) $EXTRAS"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[$EXTRAS]"
    echo "$wanted" > "$stamp"
fi
