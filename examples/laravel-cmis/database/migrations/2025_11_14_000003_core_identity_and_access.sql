-- =====================================================================
-- PHASE 2: INDEPENDENT TABLES
-- Migration:  2025_11_14_000003_core_identity_and_access
-- Depends on: 2025_11_14_000001_extensions_and_schemas (citext, uuid-ossp,
--             schemas cmis and cmis_audit)
-- Provides:   cmis.orgs, cmis.users, cmis.roles, cmis.user_orgs,
--             cmis_audit.audit_log
-- AI Agent Context: tables only. Foreign keys, unique and check
--             constraints live in 000005_constraints_and_indexes.
-- =====================================================================

-- migrate:up
CREATE TABLE cmis.orgs (
    org_id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name             text        NOT NULL,
    default_currency char(3)     NOT NULL DEFAULT 'USD',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);

CREATE TABLE cmis.users (
    user_id       uuid        PRIMARY KEY DEFAULT uuid_generate_v4(),
    email         citext      NOT NULL,
    display_name  text,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);

CREATE TABLE cmis.roles (
    role_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id  uuid,               -- NULL for built-in roles
    code    text NOT NULL,
    name    text NOT NULL
);

CREATE TABLE cmis.user_orgs (
    user_id   uuid        NOT NULL,
    org_id    uuid        NOT NULL,
    role_id   uuid        NOT NULL,
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, org_id)
);

CREATE TABLE cmis_audit.audit_log (
    audit_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     uuid,
    table_name text        NOT NULL,
    row_id     uuid,
    action     text        NOT NULL,
    old_row    jsonb,
    new_row    jsonb,
    changed_by text        NOT NULL DEFAULT current_user,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- migrate:down
DROP TABLE IF EXISTS cmis_audit.audit_log;
DROP TABLE IF EXISTS cmis.user_orgs;
DROP TABLE IF EXISTS cmis.roles;
DROP TABLE IF EXISTS cmis.users;
DROP TABLE IF EXISTS cmis.orgs;
