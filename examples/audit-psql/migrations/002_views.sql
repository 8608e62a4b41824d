-- Migration: 002_views
-- Purpose: analytical views for the admin console and reports
-- Date: 2025-06-09

CREATE OR REPLACE VIEW public.job_metrics_by_bot AS
SELECT bot_id,
       count(*)                                       AS total_jobs,
       count(*) FILTER (WHERE state = 'succeeded')    AS succeeded_jobs,
       count(*) FILTER (WHERE state = 'failed')       AS failed_jobs,
       round(avg(extract(epoch FROM finished_at - started_at)), 3) AS avg_duration_seconds,
       round(100.0 * count(*) FILTER (WHERE state = 'succeeded')
             / nullif(count(*) FILTER (WHERE state IN ('succeeded', 'failed')), 0), 2) AS success_rate
  FROM public.jobs
 GROUP BY bot_id;

CREATE OR REPLACE VIEW public.recent_jobs AS
SELECT j.job_id, j.bot_id, j.state, j.accepted_at, j.started_at, j.finished_at,
       j.meta, j.result, j.created_by, j.error_message,
       extract(epoch FROM j.finished_at - j.started_at) AS duration_seconds,
       (SELECT count(*) FROM public.job_stages s WHERE s.job_id = j.job_id) AS stage_count
  FROM public.jobs j
 ORDER BY j.accepted_at DESC
 LIMIT 100;

CREATE OR REPLACE VIEW public.job_stage_summary AS
SELECT stage_name,
       count(*)                                               AS runs,
       count(*) FILTER (WHERE status = 'fail')                AS failures,
       round(avg(extract(epoch FROM ended_at - started_at)), 3) AS avg_duration_seconds
  FROM public.job_stages
 GROUP BY stage_name;
