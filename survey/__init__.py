"""The rules and the data of Staff Pulse: everything a check-in is, independent of Telegram."""
