SELECT id, owner_id, expiration, fencing_token FROM "{schema}".locking WHERE (expiration IS NULL OR expiration > clock_timestamp()) AND (owner_id = ? OR ?::boolean) ORDER BY id COLLATE "C" LIMIT ?
