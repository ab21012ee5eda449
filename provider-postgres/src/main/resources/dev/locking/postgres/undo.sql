SELECT "{schema}".locking_undo(?, ?, ?, ?)
