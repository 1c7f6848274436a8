"""Starting and stopping the whole stack: the project's files, Terraform applied to the
emulator, and the gateway, runtime and scheduler wired together. Uses ``gateway``,
``emulator`` and ``runtime``; nothing below imports it."""
