SELECT "{schema}".locking_session_release(?, ?)
