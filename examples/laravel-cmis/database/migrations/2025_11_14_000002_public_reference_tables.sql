-- =====================================================================
-- PHASE 2: INDEPENDENT TABLES
-- Migration:  2025_11_14_000002_public_reference_tables
-- Depends on: 2025_11_14_000001_extensions_and_schemas
-- Provides:   public.currencies, public.ad_platforms (lookup tables + rows)
-- AI Agent Context: lookup data only; no foreign keys point out of here.
-- =====================================================================

-- migrate:up
CREATE TABLE public.currencies (
    code        char(3)  PRIMARY KEY,
    name        text     NOT NULL,
    minor_units smallint NOT NULL DEFAULT 2
);

CREATE TABLE public.ad_platforms (
    code         text PRIMARY KEY,
    display_name text NOT NULL,
    is_active    boolean NOT NULL DEFAULT true
);

INSERT INTO public.currencies (code, name, minor_units) VALUES
    ('USD', 'US Dollar', 2),
    ('EUR', 'Euro', 2),
    ('SAR', 'Saudi Riyal', 2),
    ('JPY', 'Japanese Yen', 0);

INSERT INTO public.ad_platforms (code, display_name) VALUES
    ('meta', 'Meta Ads'),
    ('google', 'Google Ads'),
    ('tiktok', 'TikTok Ads');

-- migrate:down
DROP TABLE IF EXISTS public.ad_platforms;
DROP TABLE IF EXISTS public.currencies;
