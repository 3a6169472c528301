#!/usr/bin/env bash
# Usage: push-image.sh CLOUD OUTPUTS_JSON
# Builds app/Dockerfile (training and serving image) and pushes it as :<commit> and :latest to the stack's registry
# (the `training_image_uri` output), signed in as the rollout identity the job already assumed.
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
    az acr build --registry "${registry%%.*}" --file app/Dockerfile --image "${repo#*/}:$sha" --image "${repo#*/}:latest" .
    exit 0
    ;;
  *) echo "error: cloud = '$cloud': must be aws, azure or gcp" >&2; exit 2 ;;
esac
docker build --file app/Dockerfile --tag "$repo:$sha" --tag "$repo:latest" .
docker push "$repo:$sha"
docker push "$repo:latest"
