-- Migration: 004_composite_indexes
-- Purpose: indexes for the admin console's "jobs of bot X in state Y" list
--          and for filtering on job parameters
-- Date: 2025-07-01

CREATE INDEX IF NOT EXISTS idx_jobs_bot_state_accepted ON public.jobs (bot_id, state, accepted_at DESC);
CREATE INDEX IF NOT EXISTS idx_jobs_meta ON public.jobs USING gin (meta jsonb_path_ops);
-- most queries only care about jobs that are not finished yet
CREATE INDEX IF NOT EXISTS idx_jobs_open ON public.jobs (accepted_at) WHERE state IN ('queued', 'running');
