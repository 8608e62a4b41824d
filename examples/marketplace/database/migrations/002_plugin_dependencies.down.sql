-- 002_plugin_dependencies.down.sql
DROP VIEW IF EXISTS plugin_dependency_counts;
DROP FUNCTION IF EXISTS check_plugin_dependencies(varchar);
DROP FUNCTION IF EXISTS get_plugin_dependency_tree(varchar, integer);
DROP FUNCTION IF EXISTS version_to_array(text);
DROP TABLE IF EXISTS plugin_dependencies;
