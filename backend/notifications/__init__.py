"""Messages to members (N1–N3): SMS and email through an outbox.

- `outbox` — queue a message in the caller's transaction (one INSERT, no provider I/O).
- `templates` — the automatic messages' texts, placeholders and rendering.
- `providers` — where messages go: the console (files), Kavenegar, SMTP.
- `dispatcher` — claims due messages, renders, counts the SMS quota, sends, retries.
- `campaigns` — segments, preview and the promotional send with its hold-out group.

The daily jobs and the jobs process that sends the outbox live in `backend.jobs`, which
imports this package; nothing here imports `backend.services` or `backend.jobs`.

See docs/messages.md.
"""
