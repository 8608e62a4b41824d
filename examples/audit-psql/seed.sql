-- Development seed data for the audit database. NOT a migration: apply it
-- after the migrations, on development and test databases only:
--   psql "$DATABASE_URL" -f seed.sql
-- Safe to re-run.

INSERT INTO public.jobs (job_id, bot_id, state, accepted_at, started_at, finished_at, meta, result, created_by, error_message)
VALUES
    ('7f1c2d3e-0000-4000-8000-000000000001', 'forus-login-bot', 'succeeded',
     '2025-09-01 09:00:00+00', '2025-09-01 09:00:02+00', '2025-09-01 09:00:14.250+00',
     '{"portal": "demo", "retries": 0}', '{"ok": true}', '{"name": "seed", "role": "dev"}', NULL),
    ('7f1c2d3e-0000-4000-8000-000000000002', 'forus-login-bot', 'failed',
     '2025-09-01 09:05:00+00', '2025-09-01 09:05:01+00', '2025-09-01 09:05:09.900+00',
     '{"portal": "demo", "retries": 2}', NULL, '{"name": "seed", "role": "dev"}', 'captcha not solved'),
    ('7f1c2d3e-0000-4000-8000-000000000003', 'forus-form-bot', 'queued',
     '2025-09-01 09:10:00+00', NULL, NULL,
     '{"form": "affiliation"}', NULL, '{"name": "seed", "role": "dev"}', NULL)
ON CONFLICT (job_id) DO NOTHING;

INSERT INTO public.job_stages (job_id, stage_name, started_at, ended_at, status, meta, error)
VALUES
    ('7f1c2d3e-0000-4000-8000-000000000001', 'login',     '2025-09-01 09:00:02+00', '2025-09-01 09:00:06.500+00', 'succeed', '{}', NULL),
    ('7f1c2d3e-0000-4000-8000-000000000001', 'fill-form', '2025-09-01 09:00:06.500+00', '2025-09-01 09:00:14.250+00', 'succeed', '{}', NULL),
    ('7f1c2d3e-0000-4000-8000-000000000002', 'login',     '2025-09-01 09:05:01+00', '2025-09-01 09:05:09.900+00', 'fail', '{}', '{"code": "CAPTCHA"}')
ON CONFLICT ON CONSTRAINT uq_job_stages_job_stage_start DO NOTHING;
