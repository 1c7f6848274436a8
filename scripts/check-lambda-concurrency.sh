#!/usr/bin/env bash
# Before `make deploy` applies: does the account's Lambda concurrency leave room for one
# push (a coordinator + push_shard_parallelism shard invocations)? New accounts start with
# a reduced quota (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
# Below what a push needs it warns (a push still completes: throttled shards are requeued
# and fewer run at once); with no room for even one shard beside its coordinator it stops.
set -euo pipefail

dir=${1:?usage: check-lambda-concurrency.sh <terraform directory>}
# One line: the console reads an expression per line.
expression='jsonencode({parallelism = module.wspush.push_settings.shard_parallelism, region = var.aws_region, endpoint = var.emulator_endpoint})'
settings=$(cd "$dir" && ${TERRAFORM:-terraform} console -no-color <<<"$expression")

${PYTHON:-python3} - "$settings" <<'PYTHON'
import json
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

settings = json.loads(json.loads(sys.argv[1]))  # the console prints the JSON as a string
parallelism = int(settings["parallelism"])
needed = 1 + parallelism
client = boto3.client(
    "lambda", region_name=settings["region"], endpoint_url=settings["endpoint"] or None
)
try:
    limit = client.get_account_settings()["AccountLimit"]
except (BotoCoreError, ClientError) as error:
    print(f"make deploy: the account's Lambda concurrency was not checked: {error}", file=sys.stderr)
    sys.exit(0)
total = limit["ConcurrentExecutions"]
unreserved = limit["UnreservedConcurrentExecutions"]
if unreserved >= needed:
    sys.exit(0)
situation = f"""
This account runs at most {unreserved} Lambda invocations at once (UnreservedConcurrentExecutions;
ConcurrentExecutions {total}); one push runs up to {needed}: a coordinator and
push_shard_parallelism = {parallelism} shards. Every function of the account shares them.
"""
quota = """Ask for more: Service Quotas console, AWS Lambda, "Concurrent executions" (new accounts
start low; AWS raises the quota with use)."""
if unreserved < 2:
    print(f"make deploy: nothing was deployed.\n{situation}\nWith fewer than 2, no shard can "
          f"ever run beside its coordinator: a large push could not be delivered. {quota}",
          file=sys.stderr)
    sys.exit(1)
print(f"make deploy: warning: a push needs more Lambda concurrency than this account has.\n"
      f"{situation}\nDeploying anyway: throttled shards wait and run again, and fewer run at "
      "once, so a push completes, more slowly (docs/operations.md). To give pushes room:\n"
      f"  - {quota}\n"
      f"  - Or set   push_shard_parallelism = {max(unreserved - 2, 1)}   in "
      "terraform/terraform.tfvars.", file=sys.stderr)
PYTHON
