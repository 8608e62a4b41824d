-- Migration: 005_notifications
-- Purpose: notification templates and per-user notifications.
--          The user foreign key is added NOT VALID (no table scan, short
--          lock); 006 validates it in a separate transaction.

CREATE TABLE notification_templates (
    code             varchar(100) PRIMARY KEY,
    subject          text         NOT NULL,
    body             text         NOT NULL,
    default_priority varchar(10)  NOT NULL DEFAULT 'normal'
        CHECK (default_priority IN ('low', 'normal', 'high', 'urgent'))
);

CREATE TABLE notifications (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid         NOT NULL,
    organization_id uuid,
    template_code   varchar(100) REFERENCES notification_templates (code),
    subject         text         NOT NULL,
    body            text         NOT NULL,
    priority        varchar(10)  NOT NULL DEFAULT 'normal'
        CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    read_at         timestamptz,
    deleted_at      timestamptz,
    created_at      timestamptz  NOT NULL DEFAULT now()
);

CREATE INDEX idx_notifications_user_unread
    ON notifications (user_id, created_at DESC)
    WHERE read_at IS NULL AND deleted_at IS NULL;

ALTER TABLE notifications
    ADD CONSTRAINT fk_notifications_user
    FOREIGN KEY (user_id) REFERENCES web_users (id) ON DELETE CASCADE
    NOT VALID;

INSERT INTO notification_templates (code, subject, body, default_priority) VALUES
    ('plugin.installed', '{{plugin_name}} installed', 'Version {{version}} of {{plugin_name}} is ready; enjoy!', 'normal'),
    ('security.alert',   'Security alert: {{alert_type}}', '{{alert_details}}', 'urgent');

CREATE OR REPLACE FUNCTION create_notification_from_template(
    p_user_id         uuid,
    p_template_code   varchar,
    p_variables       jsonb   DEFAULT '{}',
    p_organization_id uuid    DEFAULT NULL,
    p_priority        varchar DEFAULT NULL
) RETURNS uuid AS $$
DECLARE
    t         notification_templates%ROWTYPE;
    v_subject text;
    v_body    text;
    kv        record;
    v_id      uuid;
BEGIN
    SELECT * INTO t FROM notification_templates WHERE code = p_template_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown notification template: %', p_template_code;
    END IF;

    v_subject := t.subject;
    v_body    := t.body;
    FOR kv IN SELECT key, value FROM jsonb_each_text(coalesce(p_variables, '{}')) LOOP
        v_subject := replace(v_subject, '{{' || kv.key || '}}', kv.value);
        v_body    := replace(v_body,    '{{' || kv.key || '}}', kv.value);
    END LOOP;

    INSERT INTO notifications (user_id, organization_id, template_code, subject, body, priority)
    VALUES (p_user_id, p_organization_id, t.code, v_subject, v_body,
            coalesce(p_priority, t.default_priority))
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION mark_notification_read(p_notification_id uuid, p_user_id uuid)
RETURNS boolean AS $$
BEGIN
    UPDATE notifications
       SET read_at = now()
     WHERE id = p_notification_id
       AND user_id = p_user_id
       AND read_at IS NULL;
    RETURN FOUND;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION get_unread_count(p_user_id uuid)
RETURNS integer AS $$
    SELECT count(*)::integer
      FROM notifications
     WHERE user_id = p_user_id
       AND read_at IS NULL
       AND deleted_at IS NULL;
$$ LANGUAGE sql STABLE;
