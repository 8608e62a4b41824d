-- Migration: 005_ms_durations
-- Purpose: millisecond-precision durations for jobs and stages (the old
--          views computed seconds on the fly)
-- Date: 2025-08-14

BEGIN;

ALTER TABLE public.jobs
    ADD COLUMN IF NOT EXISTS duration_ms integer
    GENERATED ALWAYS AS ((extract(epoch FROM finished_at - started_at) * 1000)::integer) STORED;

ALTER TABLE public.job_stages
    ADD COLUMN IF NOT EXISTS duration_ms integer
    GENERATED ALWAYS AS ((extract(epoch FROM ended_at - started_at) * 1000)::integer) STORED;

CREATE INDEX IF NOT EXISTS idx_job_stages_name_duration ON public.job_stages (stage_name, duration_ms);

CREATE OR REPLACE VIEW public.stage_duration_percentiles AS
SELECT stage_name,
       count(*)                                                     AS runs,
       percentile_cont(0.5)  WITHIN GROUP (ORDER BY duration_ms)    AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)    AS p95_ms,
       max(duration_ms)                                             AS max_ms
  FROM public.job_stages
 WHERE duration_ms IS NOT NULL
 GROUP BY stage_name;

COMMIT;
