#!/usr/bin/env bash
# Build dist/wspush.zip, the code of every Lambda function, reproducibly.
#
# Dependencies are installed for the Lambda target Terraform deploys (lambdas/runtime.json,
# which modules/lambda_function reads too: Python 3.13 on arm64) from
# lambdas/requirements.txt; boto3/botocore are left out (the runtime has them).
# The same inputs give byte-identical zips; dist/manifest.json lists each function's
# zip, handler, sha256 and size. The examples' functions are packaged the same way
# (dist/order_status.zip, dist/chat_moderation.zip).
set -euo pipefail

cd "$(dirname "$0")"
PYTHON=${PYTHON:-.venv/bin/python}
FUNCTIONS=(authorizer connect disconnect message publish push receipts)
DEPS_DIR=build/lambda-deps
DEPS_STAMP="$DEPS_DIR/.requirements.sha256"

target=$("$PYTHON" scripts/package.py --pip-target lambdas/runtime.json)
read -r python_version platform <<<"$target"
requirements_hash=$(cat lambdas/requirements.txt lambdas/runtime.json | sha256sum | cut -d' ' -f1)
if [[ ! -f "$DEPS_STAMP" || "$(cat "$DEPS_STAMP")" != "$requirements_hash" ]]; then
  echo "build: installing Lambda dependencies for python$python_version/$platform"
  rm -rf "$DEPS_DIR"
  "$PYTHON" -m pip install --quiet --quiet --no-compile --disable-pip-version-check \
    --target "$DEPS_DIR/site" \
    --platform "$platform" --implementation cp --python-version "$python_version" \
    --only-binary=:all: -r lambdas/requirements.txt
  echo "$requirements_hash" > "$DEPS_STAMP"
fi

# Everything here is rebuilt, in a staging directory, then renamed into dist/ file by file:
# a local stack running (or reloading onto) dist/ never sees a zip missing or half-written,
# and no zip or manifest entry of an earlier layout survives.
STAGE=build/dist-staging
rm -rf "$STAGE"
mkdir -p "$STAGE" dist
args=()
for function in "${FUNCTIONS[@]}"; do
  args+=("$function")
done
"$PYTHON" scripts/package.py --deps "$DEPS_DIR/site" --source lambdas --out "$STAGE" "${args[@]}"

# Examples' own functions: pure Python on the runtime's boto3, so no dependencies.
"$PYTHON" scripts/package.py --source examples/order_status/lambdas --package order_status \
  --prefix order_status_ --out "$STAGE" place_order
"$PYTHON" scripts/package.py --source examples/chat_moderation/lambdas --package chat_moderation \
  --prefix chat_moderation_ --out "$STAGE" moderate

shopt -s nullglob
for zip in dist/*.zip; do
  [[ -e "$STAGE/${zip#dist/}" ]] || rm -f "$zip"
done
for file in "$STAGE"/*; do
  mv -f "$file" dist/
done
echo "build: dist/ holds $(cd dist && echo *.zip)"
