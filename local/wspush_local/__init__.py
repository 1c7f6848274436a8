"""The one-machine wspush stack: an embedded AWS emulator, a local WebSocket gateway with
API Gateway semantics, a Lambda runtime that runs the deployed zips, and a scheduler."""
