#!/usr/bin/env bash
# run.sh names an implementation after the directory holding its build.sh; this directory is
# named troupe so the report's rows say "troupe". The adapter itself is ../build.sh.
exec "$(cd "$(dirname "$0")/.." && pwd -P)/build.sh" "$@"
