SELECT granted, token, blocked_key, ahead_waiter FROM "{schema}".locking_session_acquire(?, ?, ?, ?, ?, ?)
