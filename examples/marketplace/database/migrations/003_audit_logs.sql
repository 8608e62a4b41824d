-- Migration: 003_audit_logs
-- Purpose: audit trail, range-partitioned by month, with logging,
--          maintenance functions and reporting views.

CREATE TABLE audit_logs (
    id              uuid         NOT NULL DEFAULT gen_random_uuid(),
    user_id         uuid,
    organization_id uuid,
    action          varchar(100) NOT NULL,
    resource_type   varchar(50)  NOT NULL,
    resource_id     text,
    severity        varchar(10)  NOT NULL DEFAULT 'info'
        CHECK (severity IN ('debug', 'info', 'warning', 'error', 'critical')),
    metadata        jsonb        NOT NULL DEFAULT '{}',
    error_message   text,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    -- the partition key must be part of every unique constraint
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE TABLE audit_logs_2025_11 PARTITION OF audit_logs
    FOR VALUES FROM ('2025-11-01 00:00:00+00') TO ('2025-12-01 00:00:00+00');
CREATE TABLE audit_logs_2025_12 PARTITION OF audit_logs
    FOR VALUES FROM ('2025-12-01 00:00:00+00') TO ('2026-01-01 00:00:00+00');
CREATE TABLE audit_logs_default PARTITION OF audit_logs DEFAULT;

-- Created on the parent, cascaded to every partition.
CREATE INDEX idx_audit_logs_user_created ON audit_logs (user_id, created_at DESC);
CREATE INDEX idx_audit_logs_errors ON audit_logs (created_at) WHERE severity IN ('error', 'critical');

CREATE OR REPLACE FUNCTION log_user_action(
    p_user_id         uuid,
    p_action          varchar,
    p_resource_type   varchar,
    p_resource_id     text,
    p_organization_id uuid  DEFAULT NULL,
    p_metadata        jsonb DEFAULT '{}'
) RETURNS uuid AS $$
DECLARE
    v_id uuid;
BEGIN
    INSERT INTO audit_logs (user_id, organization_id, action, resource_type, resource_id, metadata)
    VALUES (p_user_id, p_organization_id, p_action, p_resource_type, p_resource_id,
            coalesce(p_metadata, '{}'))
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION cleanup_old_audit_logs(retention_days integer DEFAULT 365)
RETURNS integer AS $$
DECLARE
    v_deleted integer;
BEGIN
    DELETE FROM audit_logs
     WHERE created_at < now() - make_interval(days => retention_days);
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END;
$$ LANGUAGE plpgsql;

CREATE VIEW recent_audit_errors AS
SELECT id, user_id, organization_id, action, resource_type, resource_id,
       severity, error_message, created_at
  FROM audit_logs
 WHERE severity IN ('error', 'critical')
   AND created_at > now() - interval '7 days';

CREATE VIEW daily_activity_stats AS
SELECT date_trunc('day', created_at) AS day,
       action,
       count(*)                      AS events,
       count(DISTINCT user_id)       AS unique_users
  FROM audit_logs
 GROUP BY 1, 2;
