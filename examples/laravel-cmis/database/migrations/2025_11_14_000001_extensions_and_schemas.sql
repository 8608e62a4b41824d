-- =====================================================================
-- PHASE 1: FOUNDATION
-- Migration:  2025_11_14_000001_extensions_and_schemas
-- Depends on: (nothing)
-- Provides:   extensions pgcrypto, pg_trgm, citext, btree_gist, uuid-ossp
--             schemas cmis, cmis_audit
-- AI Agent Context: every later migration assumes these exist. Add new
--             schemas or extensions here, never in a domain migration.
-- =====================================================================

-- migrate:up
CREATE EXTENSION IF NOT EXISTS pgcrypto;      -- gen_random_uuid(), crypt()
CREATE EXTENSION IF NOT EXISTS pg_trgm;       -- fuzzy campaign search
CREATE EXTENSION IF NOT EXISTS citext;        -- case-insensitive e-mail
CREATE EXTENSION IF NOT EXISTS btree_gist;    -- exclusion constraints on uuid + range
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";   -- uuid_generate_v4() used by legacy tables

CREATE SCHEMA IF NOT EXISTS cmis;
CREATE SCHEMA IF NOT EXISTS cmis_audit;

COMMENT ON SCHEMA cmis IS 'Core multi-tenant domain: orgs, users, campaigns';
COMMENT ON SCHEMA cmis_audit IS 'Append-only audit trail';

-- migrate:down
-- No CASCADE: if a later migration was not rolled back cleanly, fail here
-- instead of silently dropping its objects.
DROP SCHEMA IF EXISTS cmis_audit;
DROP SCHEMA IF EXISTS cmis;

DROP EXTENSION IF EXISTS "uuid-ossp";
DROP EXTENSION IF EXISTS btree_gist;
DROP EXTENSION IF EXISTS citext;
DROP EXTENSION IF EXISTS pg_trgm;
DROP EXTENSION IF EXISTS pgcrypto;
