"""The embedded AWS emulator: moto in this process, with what moto lacks (Lambda invokes,
EventBridge delivery and schedules, account rules, cheap transactions). Uses ``runtime``
only."""
