SELECT "{schema}".locking_renew(?, ?, ?, ?)
