SELECT "{schema}".locking_release_all(?)
