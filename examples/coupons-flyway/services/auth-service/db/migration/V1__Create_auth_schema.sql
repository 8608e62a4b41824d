-- Auth Service: users, OTP sessions, refresh tokens and an audit trail.
CREATE SCHEMA IF NOT EXISTS auth_schema;

CREATE TABLE auth_schema.users (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phone_number          varchar(20)  NOT NULL UNIQUE
                          CHECK (phone_number ~ '^\+[1-9][0-9]{7,14}$'),
    email                 varchar(255) CHECK (email IS NULL OR email ~* '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
    first_name            varchar(100),
    last_name             varchar(100),
    role                  varchar(20)  NOT NULL DEFAULT 'CUSTOMER'
                          CHECK (role IN ('CUSTOMER', 'EMPLOYEE', 'STATION_ADMIN', 'SYSTEM_ADMIN')),
    is_active             boolean      NOT NULL DEFAULT true,
    failed_login_attempts integer      NOT NULL DEFAULT 0 CHECK (failed_login_attempts >= 0),
    locked_until          timestamptz,
    created_at            timestamptz  NOT NULL DEFAULT now(),
    updated_at            timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE auth_schema.otp_sessions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phone_number varchar(20) NOT NULL,
    otp_hash     varchar(128) NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND 5),
    expires_at   timestamptz NOT NULL,
    verified_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_otp_sessions_phone_open ON auth_schema.otp_sessions (phone_number, expires_at)
    WHERE verified_at IS NULL;

CREATE TABLE auth_schema.refresh_tokens (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid        NOT NULL REFERENCES auth_schema.users (id) ON DELETE CASCADE,
    token_hash varchar(128) NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_refresh_tokens_user ON auth_schema.refresh_tokens (user_id) WHERE revoked_at IS NULL;

CREATE TABLE auth_schema.auth_audit_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        uuid REFERENCES auth_schema.users (id) ON DELETE SET NULL,
    event_type     varchar(50) NOT NULL,
    ip_address     inet,
    user_agent     text,
    correlation_id uuid,
    details        jsonb       NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_auth_audit_user_created ON auth_schema.auth_audit_log (user_id, created_at DESC);

CREATE OR REPLACE FUNCTION auth_schema.update_updated_at() RETURNS trigger AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trg_users_updated_at
    BEFORE UPDATE ON auth_schema.users
    FOR EACH ROW EXECUTE FUNCTION auth_schema.update_updated_at();

CREATE VIEW auth_schema.active_users AS
SELECT id, phone_number, first_name, last_name, role, created_at
  FROM auth_schema.users
 WHERE is_active = true
   AND (locked_until IS NULL OR locked_until < now());
