-- Migration: 001_core
-- Purpose: organizations, users and the plugin catalogue, plus the shared
--          updated_at trigger function used by later migrations.
-- Rollback: 001_core.down.sql

CREATE TABLE organizations (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       varchar(200) NOT NULL,
    created_at timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE web_users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid REFERENCES organizations (id) ON DELETE SET NULL,
    email           varchar(320) NOT NULL UNIQUE,
    display_name    varchar(200),
    created_at      timestamptz  NOT NULL DEFAULT now(),
    updated_at      timestamptz  NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);

CREATE TABLE plugins (
    id             varchar(100) PRIMARY KEY,
    name           varchar(200) NOT NULL,
    latest_version varchar(32)  NOT NULL DEFAULT '0.1.0',
    metadata       jsonb        NOT NULL DEFAULT '{}',
    created_at     timestamptz  NOT NULL DEFAULT now(),
    updated_at     timestamptz  NOT NULL DEFAULT now()
);

-- Soft deletes: most queries only look at active users.
CREATE INDEX idx_web_users_active ON web_users (organization_id) WHERE deleted_at IS NULL;
-- JSONB containment queries (metadata @> '{"category": "ai"}').
CREATE INDEX idx_plugins_metadata ON plugins USING gin (metadata);

CREATE OR REPLACE FUNCTION trigger_set_updated_at()
RETURNS trigger AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trg_web_users_updated_at
    BEFORE UPDATE ON web_users
    FOR EACH ROW
    EXECUTE FUNCTION trigger_set_updated_at();

CREATE TRIGGER trg_plugins_updated_at
    BEFORE UPDATE ON plugins
    FOR EACH ROW
    EXECUTE FUNCTION trigger_set_updated_at();
