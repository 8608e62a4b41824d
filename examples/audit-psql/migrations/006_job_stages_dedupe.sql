-- Migration: 006_job_stages_dedupe
-- Purpose: remove duplicate stage records, then prevent new ones
-- Date: 2025-09-03
--
-- A duplicate is a second row for the same (job_id, stage_name, started_at).
-- Keep the most complete row of each group (one that has ended_at), and
-- among equals the oldest one (lowest id).

WITH ranked AS (
    SELECT id,
           row_number() OVER (PARTITION BY job_id, stage_name, started_at
                              ORDER BY (ended_at IS NULL), id) AS rn
      FROM public.job_stages
)
DELETE FROM public.job_stages s
 USING ranked r
 WHERE s.id = r.id
   AND r.rn > 1;

-- No ADD CONSTRAINT IF NOT EXISTS in PostgreSQL: check the catalog so the
-- file stays safe to re-run.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
         WHERE conname = 'uq_job_stages_job_stage_start'
           AND conrelid = 'public.job_stages'::regclass
    ) THEN
        ALTER TABLE public.job_stages
            ADD CONSTRAINT uq_job_stages_job_stage_start UNIQUE (job_id, stage_name, started_at);
    END IF;
END
$$;
