#!/usr/bin/env bash
# Usage: require-vars.sh NAME...  (the variables' values come from the step's env)
# Prints `configured=true` to $GITHUB_OUTPUT when every named variable is set; otherwise a notice naming the missing
# ones and `configured=false`, so the job's remaining steps skip instead of failing on a cloud nobody set up.
set -euo pipefail
missing=()
for name in "$@"; do
  [[ -n "${!name:-}" ]] || missing+=("$name")
done
if ((${#missing[@]})); then
  echo "::notice title=${CLOUD:-cloud} not configured::skipped: set the repository/environment variables ${missing[*]} (docs/cicd.md)"
  echo "configured=false" >>"${GITHUB_OUTPUT:-/dev/stdout}"
else
  echo "configured=true" >>"${GITHUB_OUTPUT:-/dev/stdout}"
fi
