SELECT granted, tokens, expires_at, blocked_key, retry_after_ms, ahead_waiter FROM "{schema}".locking_try_acquire(?, ?, ?, ?, ?, ?, ?, ?)
