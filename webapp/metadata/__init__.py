"""The domain: every write, from any API, page, command or job, goes through here."""
