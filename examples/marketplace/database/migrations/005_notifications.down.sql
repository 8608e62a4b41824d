-- 005_notifications.down.sql
DROP FUNCTION IF EXISTS get_unread_count(uuid);
DROP FUNCTION IF EXISTS mark_notification_read(uuid, uuid);
DROP FUNCTION IF EXISTS create_notification_from_template(uuid, varchar, jsonb, uuid, varchar);
DROP TABLE IF EXISTS notifications;
DROP TABLE IF EXISTS notification_templates;
