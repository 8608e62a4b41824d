-- Migration: 003_alias_views
-- Purpose: old view names still used by the v1 admin console queries
-- Date: 2025-06-11

CREATE OR REPLACE VIEW public.bot_metrics AS
SELECT * FROM public.job_metrics_by_bot;

CREATE OR REPLACE VIEW public.latest_jobs AS
SELECT * FROM public.recent_jobs;
