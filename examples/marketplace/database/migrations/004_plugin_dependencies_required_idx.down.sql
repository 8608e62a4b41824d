-- strata:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS idx_plugin_dependencies_required;
