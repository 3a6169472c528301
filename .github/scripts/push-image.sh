#!/usr/bin/env bash
# Usage: push-image.sh CLOUD OUTPUTS_JSON
# Builds app/Dockerfile (training and serving image) and pushes it as :<commit> to the stack's registry (the
# `training_image_uri` repository), signed in as the rollout identity the job already assumed. Only the commit tag:
# ECR (IMMUTABLE) and Artifact Registry (immutable_tags) refuse to move a tag, so a :latest would fail the second deploy;
# `tricloud model train --image-tag <commit>` trains on exactly this build.
set -euo pipefail
cloud=$1
image=$(jq -er .training_image_uri "$2")
repo=${image%:*}
registry=${image%%/*}
sha=${GITHUB_SHA:?}
case "$cloud" in
  aws)
    aws ecr get-login-password | docker login --username AWS --password-stdin "$registry"
    ;;
  gcp)
    gcloud auth configure-docker "$registry" --quiet
    ;;
  azure)
    # ACR Tasks builds in the registry itself: no Docker daemon or push credentials on the runner.
    az acr build --registry "${registry%%.*}" --file app/Dockerfile --image "${repo#*/}:$sha" .
    exit 0
    ;;
  *) echo "error: cloud = '$cloud': must be aws, azure or gcp" >&2; exit 2 ;;
esac
docker build --file app/Dockerfile --tag "$repo:$sha" .
docker push "$repo:$sha"
