-- =====================================================================
-- PHASE 3: BUSINESS DOMAINS
-- Migration:  2025_11_14_000004_campaigns_and_contexts
-- Depends on: 2025_11_14_000003_core_identity_and_access (cmis.orgs)
-- Provides:   cmis.campaigns, cmis.contexts, cmis.campaign_context_links
-- AI Agent Context: every row is scoped by org_id; soft-deleted rows keep
--             deleted_at. Constraints are added in phase 4.
-- =====================================================================

-- migrate:up
CREATE TABLE cmis.campaigns (
    campaign_id   uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id        uuid          NOT NULL,
    name          text          NOT NULL,
    description   text,
    status        text          NOT NULL DEFAULT 'draft',
    budget        numeric(14,2),
    currency      char(3)       NOT NULL DEFAULT 'USD',
    active_during tstzrange,
    search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))
    ) STORED,
    created_at    timestamptz   NOT NULL DEFAULT now(),
    updated_at    timestamptz   NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);

CREATE TABLE cmis.contexts (
    context_id   uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid        NOT NULL,
    context_type text        NOT NULL,
    payload      jsonb       NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cmis.campaign_context_links (
    campaign_id uuid NOT NULL,
    context_id  uuid NOT NULL,
    weight      real NOT NULL DEFAULT 1.0,
    PRIMARY KEY (campaign_id, context_id)
);

-- migrate:down
DROP TABLE IF EXISTS cmis.campaign_context_links;
DROP TABLE IF EXISTS cmis.contexts;
DROP TABLE IF EXISTS cmis.campaigns;
