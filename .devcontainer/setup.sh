#!/usr/bin/env bash
# Runs once when the Codespace is created (postCreateCommand in devcontainer.json): pulls the images
# now, so that no participant waits for a download during the workshop, then runs the project's
# set-up. The one shell script of the kit; everything participants run is Python.
set -euo pipefail
cd "$(dirname "$0")/.."

# docker-in-docker starts its engine in the background: give it up to a minute.
for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
done

# Same images as reality/config.py (OFFICIAL_IMAGES) and reality/provision.py (RYUK_IMAGE), pulled in
# parallel. A failed pull is not fatal: setup.py pulls, or builds, whatever is still missing.
images=(postgres:15-alpine redis:7-alpine testcontainers/ryuk:0.8.1)
pids=()
for image in "${images[@]}"; do
    docker pull --quiet "$image" >/dev/null 2>&1 &
    pids+=("$!")
done
for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
        echo "pulled ${images[$i]}"
    else
        echo "could not pull ${images[$i]} now: setup.py will try again"
    fi
done

python3 setup.py --yes
