#!/usr/bin/env bash
# Usage: cost-diff.sh BASE_REF OUT_MARKDOWN
# Run from the head checkout's root with its .venv built (make install). Builds the inventory of every stack at the
# base commit (its own code, in a temporary git worktree) and at the head, then prices both with the head's catalog:
# `tricloud cost diff` writes the Markdown for the pull-request comment. No cloud credentials are involved.
# A stack the base does not have yet is priced as new (a notice says so); a head that cannot build fails the step.
set -euo pipefail
base_ref=$1
out=$2
root=$(pwd)
py=${PYTHON:-"$root/.venv/bin/python"}  # tests pass their interpreter
work=$(mktemp -d)
cleanup() {
  git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

git -C "$root" worktree add --detach --quiet "$work/base" "$base_ref"
base=() head=()
for cloud in aws azure gcp; do
  # PYTHONPATH first: the base's own components/ and tricloud/ build the base inventory, not the head's.
  if (cd "$work/base" && [[ -f "stacks/$cloud/Pulumi.dev.yaml" ]] &&
    PYTHONPATH="$work/base" "$py" -m tricloud inventory "$cloud" --json >"$work/base-$cloud.json" 2>"$work/base-$cloud.err"); then
    base+=("$work/base-$cloud.json")
  else
    echo "::notice title=cost diff::the base ($base_ref) has no $cloud inventory; its resources are priced as new"
  fi
  PYTHONPATH="$root" "$py" -m tricloud inventory "$cloud" --json >"$work/head-$cloud.json"
  head+=("$work/head-$cloud.json")
done

# `cost diff` takes a list of inventories as one JSON document.
as_list() { "$py" -c 'import json, sys; json.dump([json.load(open(p)) for p in sys.argv[2:]], open(sys.argv[1], "w"))' "$@"; }
as_list "$work/base.json" ${base[@]+"${base[@]}"}
as_list "$work/head.json" "${head[@]}"
"$py" -m tricloud cost diff --base "$work/base.json" --head "$work/head.json" --out "$out"
