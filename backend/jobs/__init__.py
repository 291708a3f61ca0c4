"""Scheduled work: the jobs process and the daily jobs it runs.

- `daily` — the daily jobs (nightly loyalty jobs, birthdays, anniversaries, expiring
  credit and points, cheque and instalment reminders, clean-up), each run once per
  local day.
- `scheduler` — the jobs process (`flask --app backend jobs`): sends the outbox, asks
  for delivery reports and runs the due daily jobs.

This package sits above `backend.services` and `backend.notifications` and may import
both; neither imports it (see docs/architecture.md).
"""
