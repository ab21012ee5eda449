SELECT "{schema}".locking_leave_queue(?, ?, ?)
