SELECT released, handed_to, handed_token, handed_expires_at FROM "{schema}".locking_release(?, ?, ?, ?, ?)
