ALTER TABLE users.profiles ADD COLUMN last_active_at timestamptz;

-- Backfill from presence data where we have it.
UPDATE users.profiles p
   SET last_active_at = s.last_seen_at
  FROM presence.user_status s
 WHERE s.user_id = p.user_id;

CREATE INDEX idx_profiles_last_active ON users.profiles (last_active_at DESC NULLS LAST);
