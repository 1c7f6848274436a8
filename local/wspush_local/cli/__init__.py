"""Commands: ``wspush`` and its subcommands (run, token, push, connections, listen ...).

The top floor: it starts the stack (``stack``) or talks to a running one through its
public surfaces, and may use every floor below."""
