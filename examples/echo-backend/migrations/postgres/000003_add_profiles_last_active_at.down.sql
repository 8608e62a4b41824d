DROP INDEX IF EXISTS users.idx_profiles_last_active;
ALTER TABLE users.profiles DROP COLUMN IF EXISTS last_active_at;
