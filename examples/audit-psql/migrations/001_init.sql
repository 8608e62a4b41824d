-- Migration: 001_init
-- Purpose: job and stage tracking tables for the audit database
-- Date: 2025-06-02

CREATE TABLE IF NOT EXISTS public.jobs (
    job_id        uuid PRIMARY KEY,
    bot_id        text        NOT NULL,
    state         text        NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    accepted_at   timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    meta          jsonb       NOT NULL DEFAULT '{}',
    result        jsonb,
    created_by    jsonb,      -- { "name": ..., "role": ..., "at": ... }
    error_message text,
    CONSTRAINT jobs_finished_after_started CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
);

CREATE INDEX IF NOT EXISTS idx_jobs_bot_id ON public.jobs (bot_id);
CREATE INDEX IF NOT EXISTS idx_jobs_state ON public.jobs (state);
CREATE INDEX IF NOT EXISTS idx_jobs_accepted_at ON public.jobs (accepted_at DESC);

-- Early versions of the bot runner could record the same stage twice;
-- 006_job_stages_dedupe.sql cleans that up and adds the unique constraint.
CREATE TABLE IF NOT EXISTS public.job_stages (
    id         serial PRIMARY KEY,
    job_id     uuid        NOT NULL,
    stage_name text        NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at   timestamptz,
    status     text        CHECK (status IN ('succeed', 'fail')),
    meta       jsonb       NOT NULL DEFAULT '{}',
    error      jsonb,
    CONSTRAINT fk_job_stages_job_id FOREIGN KEY (job_id) REFERENCES public.jobs (job_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS idx_job_stages_job_id ON public.job_stages (job_id);
CREATE INDEX IF NOT EXISTS idx_job_stages_stage_name ON public.job_stages (stage_name);
