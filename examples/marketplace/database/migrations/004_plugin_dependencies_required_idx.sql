-- strata:no-transaction
-- Migration: 004_plugin_dependencies_required_idx
-- Purpose: index the reverse lookup "who depends on plugin X" without
--          blocking writes. CREATE INDEX CONCURRENTLY cannot run inside a
--          transaction block, so it lives alone in this migration.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_plugin_dependencies_required
    ON plugin_dependencies (required_plugin_id);
