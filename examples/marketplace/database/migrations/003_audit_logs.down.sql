-- 003_audit_logs.down.sql
DROP VIEW IF EXISTS daily_activity_stats;
DROP VIEW IF EXISTS recent_audit_errors;
DROP FUNCTION IF EXISTS cleanup_old_audit_logs(integer);
DROP FUNCTION IF EXISTS log_user_action(uuid, varchar, varchar, text, uuid, jsonb);
-- dropping the partitioned parent drops its partitions
DROP TABLE IF EXISTS audit_logs;
