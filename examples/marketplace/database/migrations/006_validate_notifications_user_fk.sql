-- Migration: 006_validate_notifications_user_fk
-- Purpose: validate the foreign key added NOT VALID in 005. VALIDATE only
--          takes a SHARE UPDATE EXCLUSIVE lock, so reads and writes continue
--          while existing rows are checked.
ALTER TABLE notifications VALIDATE CONSTRAINT fk_notifications_user;
