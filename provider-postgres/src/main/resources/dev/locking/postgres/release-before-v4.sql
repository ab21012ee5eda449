SELECT "{schema}".locking_release(?, ?, ?)
