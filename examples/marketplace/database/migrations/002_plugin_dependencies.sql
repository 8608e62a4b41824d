-- Migration: 002_plugin_dependencies
-- Purpose: plugin dependency graph with version constraints, a recursive
--          dependency-tree function and a validation function.

CREATE TABLE plugin_dependencies (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    plugin_id          varchar(100) NOT NULL REFERENCES plugins (id) ON DELETE CASCADE,
    required_plugin_id varchar(100) NOT NULL REFERENCES plugins (id) ON DELETE RESTRICT,
    minimum_version    varchar(32),
    maximum_version    varchar(32),
    dependency_type    varchar(16)  NOT NULL DEFAULT 'required'
        CHECK (dependency_type IN ('required', 'optional', 'recommended', 'conflict')),
    created_at         timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT plugin_dependencies_no_self CHECK (plugin_id <> required_plugin_id),
    CONSTRAINT plugin_dependencies_unique UNIQUE (plugin_id, required_plugin_id)
);

-- '2.10.0' must compare greater than '2.9.1': compare as integer arrays.
CREATE OR REPLACE FUNCTION version_to_array(v text)
RETURNS integer[] AS $$
    SELECT array_agg(part::integer ORDER BY ord)
      FROM unnest(string_to_array(v, '.')) WITH ORDINALITY AS t(part, ord);
$$ LANGUAGE sql IMMUTABLE STRICT;

-- Complete dependency tree of a plugin, depth-limited and cycle-safe.
CREATE OR REPLACE FUNCTION get_plugin_dependency_tree(p_plugin_id varchar, p_max_depth integer DEFAULT 5)
RETURNS TABLE (plugin_id varchar, required_plugin_id varchar, dependency_type varchar,
               depth integer, path varchar[])
AS $$
BEGIN
    RETURN QUERY
    WITH RECURSIVE tree (plugin_id, required_plugin_id, dependency_type, depth, path) AS (
        SELECT d.plugin_id, d.required_plugin_id, d.dependency_type, 1,
               ARRAY[d.plugin_id, d.required_plugin_id]::varchar[]
          FROM plugin_dependencies d
         WHERE d.plugin_id = p_plugin_id
        UNION ALL
        SELECT d.plugin_id, d.required_plugin_id, d.dependency_type, t.depth + 1,
               (t.path || d.required_plugin_id)::varchar[]
          FROM plugin_dependencies d
          JOIN tree t ON d.plugin_id = t.required_plugin_id
         WHERE t.depth < p_max_depth
           AND NOT d.required_plugin_id = ANY (t.path)   -- stop on cycles
    )
    SELECT tr.plugin_id, tr.required_plugin_id, tr.dependency_type, tr.depth, tr.path
      FROM tree tr
     ORDER BY tr.depth, tr.required_plugin_id;
END;
$$ LANGUAGE plpgsql STABLE;

-- Are the direct dependencies of a plugin satisfied by the catalogue?
CREATE OR REPLACE FUNCTION check_plugin_dependencies(p_plugin_id varchar)
RETURNS TABLE (required_plugin_id varchar, minimum_version varchar,
               available_version varchar, satisfied boolean)
AS $$
    SELECT d.required_plugin_id,
           d.minimum_version,
           p.latest_version,
           CASE
               WHEN d.dependency_type = 'conflict' THEN false
               WHEN d.minimum_version IS NULL THEN true
               ELSE version_to_array(p.latest_version) >= version_to_array(d.minimum_version)
           END
      FROM plugin_dependencies d
      JOIN plugins p ON p.id = d.required_plugin_id
     WHERE d.plugin_id = p_plugin_id;
$$ LANGUAGE sql STABLE;

CREATE VIEW plugin_dependency_counts AS
SELECT p.id                                                      AS plugin_id,
       count(d.id) FILTER (WHERE d.dependency_type = 'required') AS required_count,
       count(d.id)                                               AS total_count
  FROM plugins p
  LEFT JOIN plugin_dependencies d ON d.plugin_id = p.id
 GROUP BY p.id;
