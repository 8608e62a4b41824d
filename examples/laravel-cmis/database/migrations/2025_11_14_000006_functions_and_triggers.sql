-- =====================================================================
-- PHASE 5: BUSINESS LOGIC
-- Migration:  2025_11_14_000006_functions_and_triggers
-- Depends on: 2025_11_14_000005_constraints_and_indexes (all tables and
--             constraints), pgcrypto and pg_trgm from 000001
-- Provides:   cmis.set_updated_at(), cmis_audit.log_change(),
--             cmis.current_org_id(), cmis.verify_password(),
--             cmis.search_campaigns(), tenant row-level security
-- =====================================================================

-- migrate:up
CREATE FUNCTION cmis.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE FUNCTION cmis_audit.log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_old jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    v_new jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
BEGIN
    INSERT INTO cmis_audit.audit_log (org_id, table_name, row_id, action, old_row, new_row)
    VALUES (
        (coalesce(v_new, v_old) ->> 'org_id')::uuid,
        TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
        (coalesce(v_new, v_old) ->> TG_ARGV[0])::uuid,
        lower(TG_OP),
        v_old,
        v_new
    );
    RETURN NULL;  -- AFTER trigger: return value is ignored
END;
$$;

-- Tenant context set by the application: SET app.current_org_id = '...'
CREATE FUNCTION cmis.current_org_id() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('app.current_org_id', true), '')::uuid;
$$;

CREATE FUNCTION cmis.verify_password(p_email citext, p_password text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT u.password_hash = crypt(p_password, u.password_hash)
           FROM cmis.users u
          WHERE u.email = p_email AND u.deleted_at IS NULL),
        false);
$$;

CREATE FUNCTION cmis.search_campaigns(p_org_id uuid, p_query text, p_limit integer DEFAULT 20)
RETURNS TABLE (campaign_id uuid, name text, score real)
LANGUAGE sql STABLE AS $$
    SELECT c.campaign_id, c.name, similarity(c.name, p_query) AS score
      FROM cmis.campaigns c
     WHERE c.org_id = p_org_id
       AND c.deleted_at IS NULL
       AND (c.name % p_query OR c.search_vector @@ plainto_tsquery('simple', p_query))
     ORDER BY score DESC, c.name
     LIMIT p_limit;
$$;

CREATE TRIGGER trg_orgs_updated_at BEFORE UPDATE ON cmis.orgs
    FOR EACH ROW EXECUTE FUNCTION cmis.set_updated_at();
CREATE TRIGGER trg_users_updated_at BEFORE UPDATE ON cmis.users
    FOR EACH ROW EXECUTE FUNCTION cmis.set_updated_at();
CREATE TRIGGER trg_campaigns_updated_at BEFORE UPDATE ON cmis.campaigns
    FOR EACH ROW EXECUTE FUNCTION cmis.set_updated_at();
CREATE TRIGGER trg_campaigns_audit AFTER INSERT OR UPDATE OR DELETE ON cmis.campaigns
    FOR EACH ROW EXECUTE FUNCTION cmis_audit.log_change('campaign_id');

ALTER TABLE cmis.campaigns ENABLE ROW LEVEL SECURITY;
CREATE POLICY campaigns_tenant_isolation ON cmis.campaigns
    USING (org_id = cmis.current_org_id())
    WITH CHECK (org_id = cmis.current_org_id());

-- migrate:down
DROP POLICY IF EXISTS campaigns_tenant_isolation ON cmis.campaigns;
ALTER TABLE cmis.campaigns DISABLE ROW LEVEL SECURITY;

DROP TRIGGER IF EXISTS trg_campaigns_audit ON cmis.campaigns;
DROP TRIGGER IF EXISTS trg_campaigns_updated_at ON cmis.campaigns;
DROP TRIGGER IF EXISTS trg_users_updated_at ON cmis.users;
DROP TRIGGER IF EXISTS trg_orgs_updated_at ON cmis.orgs;

DROP FUNCTION IF EXISTS cmis.search_campaigns(uuid, text, integer);
DROP FUNCTION IF EXISTS cmis.verify_password(citext, text);
DROP FUNCTION IF EXISTS cmis.current_org_id();
DROP FUNCTION IF EXISTS cmis_audit.log_change();
DROP FUNCTION IF EXISTS cmis.set_updated_at();
