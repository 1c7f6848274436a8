"""The local Lambda service: worker processes running the deployed zips, and the records
Lambda writes for failed asynchronous invocations. The bottom floor: imports no other."""
