"""Messages to members (N1–N3): SMS and email through an outbox.

- `outbox` — queue a message in the caller's transaction (one INSERT, no provider I/O).
- `templates` — the automatic messages' texts, placeholders and rendering.
- `providers` — where messages go: the console (files), Kavenegar, SMTP.
- `dispatcher` — claims due messages, renders, counts the SMS quota, sends, retries.
- `daily` — the daily jobs (nightly loyalty jobs, birthdays, anniversaries, expiring
  credit, clean-up), each run once per local day.
- `jobs` — the jobs process (`flask --app backend jobs`) running all of the above.
- `campaigns` — segments, preview and the promotional send with its hold-out group.

See docs/messages.md.
"""
