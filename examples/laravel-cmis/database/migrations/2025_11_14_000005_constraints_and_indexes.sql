-- =====================================================================
-- PHASE 4: DATABASE CONSTRAINTS
-- Migration:  2025_11_14_000005_constraints_and_indexes
-- Depends on: 2025_11_14_000002_public_reference_tables (currencies)
--             2025_11_14_000003_core_identity_and_access
--             2025_11_14_000004_campaigns_and_contexts
-- Provides:   sequence cmis.campaign_number_seq, foreign keys, unique,
--             check and exclusion constraints, performance indexes
-- =====================================================================

-- migrate:up
-- Sequences
CREATE SEQUENCE cmis.campaign_number_seq START 1000;
ALTER TABLE cmis.campaigns ADD COLUMN campaign_number bigint NOT NULL DEFAULT nextval('cmis.campaign_number_seq');
ALTER SEQUENCE cmis.campaign_number_seq OWNED BY cmis.campaigns.campaign_number;

-- Foreign keys
ALTER TABLE cmis.orgs ADD CONSTRAINT orgs_currency_fk
    FOREIGN KEY (default_currency) REFERENCES public.currencies (code);
ALTER TABLE cmis.roles ADD CONSTRAINT roles_org_fk
    FOREIGN KEY (org_id) REFERENCES cmis.orgs (org_id) ON DELETE CASCADE;
ALTER TABLE cmis.user_orgs ADD CONSTRAINT user_orgs_user_fk
    FOREIGN KEY (user_id) REFERENCES cmis.users (user_id) ON DELETE CASCADE;
ALTER TABLE cmis.user_orgs ADD CONSTRAINT user_orgs_org_fk
    FOREIGN KEY (org_id) REFERENCES cmis.orgs (org_id) ON DELETE CASCADE;
ALTER TABLE cmis.user_orgs ADD CONSTRAINT user_orgs_role_fk
    FOREIGN KEY (role_id) REFERENCES cmis.roles (role_id);
ALTER TABLE cmis.campaigns ADD CONSTRAINT campaigns_org_fk
    FOREIGN KEY (org_id) REFERENCES cmis.orgs (org_id) ON DELETE CASCADE;
ALTER TABLE cmis.campaigns ADD CONSTRAINT campaigns_currency_fk
    FOREIGN KEY (currency) REFERENCES public.currencies (code);
ALTER TABLE cmis.contexts ADD CONSTRAINT contexts_org_fk
    FOREIGN KEY (org_id) REFERENCES cmis.orgs (org_id) ON DELETE CASCADE;
ALTER TABLE cmis.campaign_context_links ADD CONSTRAINT ccl_campaign_fk
    FOREIGN KEY (campaign_id) REFERENCES cmis.campaigns (campaign_id) ON DELETE CASCADE;
ALTER TABLE cmis.campaign_context_links ADD CONSTRAINT ccl_context_fk
    FOREIGN KEY (context_id) REFERENCES cmis.contexts (context_id) ON DELETE CASCADE;

-- Unique, check and exclusion constraints
ALTER TABLE cmis.users ADD CONSTRAINT users_email_key UNIQUE (email);
ALTER TABLE cmis.roles ADD CONSTRAINT roles_org_code_key UNIQUE NULLS NOT DISTINCT (org_id, code);
ALTER TABLE cmis.campaigns ADD CONSTRAINT campaigns_status_check
    CHECK (status IN ('draft', 'scheduled', 'active', 'paused', 'completed', 'archived'));
ALTER TABLE cmis.campaigns ADD CONSTRAINT campaigns_budget_check
    CHECK (budget IS NULL OR budget >= 0);
-- The same campaign name may not run twice at overlapping times in one org.
ALTER TABLE cmis.campaigns ADD CONSTRAINT campaigns_no_overlap
    EXCLUDE USING gist (org_id WITH =, name WITH =, active_during WITH &&)
    WHERE (deleted_at IS NULL);

-- Indexes
CREATE INDEX idx_user_orgs_org ON cmis.user_orgs (org_id);
CREATE INDEX idx_campaigns_org_active ON cmis.campaigns (org_id, status) WHERE deleted_at IS NULL;
CREATE INDEX idx_campaigns_search ON cmis.campaigns USING gin (search_vector);
CREATE INDEX idx_campaigns_name_trgm ON cmis.campaigns USING gin (name gin_trgm_ops);
CREATE INDEX idx_contexts_payload ON cmis.contexts USING gin (payload jsonb_path_ops);

-- migrate:down
DROP INDEX IF EXISTS cmis.idx_contexts_payload;
DROP INDEX IF EXISTS cmis.idx_campaigns_name_trgm;
DROP INDEX IF EXISTS cmis.idx_campaigns_search;
DROP INDEX IF EXISTS cmis.idx_campaigns_org_active;
DROP INDEX IF EXISTS cmis.idx_user_orgs_org;

ALTER TABLE cmis.campaigns DROP CONSTRAINT IF EXISTS campaigns_no_overlap;
ALTER TABLE cmis.campaigns DROP CONSTRAINT IF EXISTS campaigns_budget_check;
ALTER TABLE cmis.campaigns DROP CONSTRAINT IF EXISTS campaigns_status_check;
ALTER TABLE cmis.roles DROP CONSTRAINT IF EXISTS roles_org_code_key;
ALTER TABLE cmis.users DROP CONSTRAINT IF EXISTS users_email_key;

ALTER TABLE cmis.campaign_context_links DROP CONSTRAINT IF EXISTS ccl_context_fk;
ALTER TABLE cmis.campaign_context_links DROP CONSTRAINT IF EXISTS ccl_campaign_fk;
ALTER TABLE cmis.contexts DROP CONSTRAINT IF EXISTS contexts_org_fk;
ALTER TABLE cmis.campaigns DROP CONSTRAINT IF EXISTS campaigns_currency_fk;
ALTER TABLE cmis.campaigns DROP CONSTRAINT IF EXISTS campaigns_org_fk;
ALTER TABLE cmis.user_orgs DROP CONSTRAINT IF EXISTS user_orgs_role_fk;
ALTER TABLE cmis.user_orgs DROP CONSTRAINT IF EXISTS user_orgs_org_fk;
ALTER TABLE cmis.user_orgs DROP CONSTRAINT IF EXISTS user_orgs_user_fk;
ALTER TABLE cmis.roles DROP CONSTRAINT IF EXISTS roles_org_fk;
ALTER TABLE cmis.orgs DROP CONSTRAINT IF EXISTS orgs_currency_fk;

-- dropping the owning column drops the OWNED BY sequence with it
ALTER TABLE cmis.campaigns DROP COLUMN IF EXISTS campaign_number;
DROP SEQUENCE IF EXISTS cmis.campaign_number_seq;
