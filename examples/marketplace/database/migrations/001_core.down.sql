-- 001_core.down.sql
DROP TRIGGER IF EXISTS trg_plugins_updated_at ON plugins;
DROP TRIGGER IF EXISTS trg_web_users_updated_at ON web_users;
DROP FUNCTION IF EXISTS trigger_set_updated_at();
DROP TABLE IF EXISTS plugins;
DROP TABLE IF EXISTS web_users;
DROP TABLE IF EXISTS organizations;
