-- 006_validate_notifications_user_fk.down.sql
-- A validated constraint cannot be "unvalidated"; restore the state left by
-- 005 by re-creating it as NOT VALID.
ALTER TABLE notifications DROP CONSTRAINT fk_notifications_user;

ALTER TABLE notifications
    ADD CONSTRAINT fk_notifications_user
    FOREIGN KEY (user_id) REFERENCES web_users (id) ON DELETE CASCADE
    NOT VALID;
