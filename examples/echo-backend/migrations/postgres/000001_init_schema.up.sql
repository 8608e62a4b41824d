-- Baseline: the schemas that infra/scripts/init-db.sh used to create.
-- Written with IF NOT EXISTS / OR REPLACE so it can also be applied to a
-- database that was initialised by the old script and already has data.

CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS users;
CREATE SCHEMA IF NOT EXISTS messages;

CREATE TABLE IF NOT EXISTS auth.accounts (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phone_number  text UNIQUE,
    email         text UNIQUE,
    password_hash text        NOT NULL,
    is_verified   boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_contact_present CHECK (phone_number IS NOT NULL OR email IS NOT NULL)
);

CREATE TABLE IF NOT EXISTS auth.sessions (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id         uuid        NOT NULL REFERENCES auth.accounts (id) ON DELETE CASCADE,
    refresh_token_hash text        NOT NULL UNIQUE,
    device_id          text,
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_sessions_account ON auth.sessions (account_id) WHERE revoked_at IS NULL;

CREATE TABLE IF NOT EXISTS users.profiles (
    user_id      uuid PRIMARY KEY REFERENCES auth.accounts (id) ON DELETE CASCADE,
    username     text        NOT NULL,
    display_name text,
    avatar_url   text,
    bio          text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_profiles_username ON users.profiles (lower(username));

CREATE TABLE IF NOT EXISTS users.contacts (
    owner_id   uuid NOT NULL REFERENCES users.profiles (user_id) ON DELETE CASCADE,
    contact_id uuid NOT NULL REFERENCES users.profiles (user_id) ON DELETE CASCADE,
    nickname   text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, contact_id),
    CHECK (owner_id <> contact_id)
);

CREATE TABLE IF NOT EXISTS messages.conversations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            text NOT NULL CHECK (kind IN ('direct', 'group')),
    title           text,
    created_by      uuid REFERENCES users.profiles (user_id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_message_at timestamptz
);

CREATE TABLE IF NOT EXISTS messages.participants (
    conversation_id uuid NOT NULL REFERENCES messages.conversations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users.profiles (user_id) ON DELETE CASCADE,
    role            text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    joined_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX IF NOT EXISTS idx_participants_user ON messages.participants (user_id);

CREATE TABLE IF NOT EXISTS messages.messages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES messages.conversations (id) ON DELETE CASCADE,
    sender_id       uuid REFERENCES users.profiles (user_id) ON DELETE SET NULL,
    body            text NOT NULL,
    sent_at         timestamptz NOT NULL DEFAULT now(),
    edited_at       timestamptz,
    deleted_at      timestamptz
);
CREATE INDEX IF NOT EXISTS idx_messages_conversation_sent ON messages.messages (conversation_id, sent_at DESC);

CREATE OR REPLACE FUNCTION messages.touch_conversation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages.conversations
       SET last_message_at = NEW.sent_at
     WHERE id = NEW.conversation_id
       AND (last_message_at IS NULL OR last_message_at < NEW.sent_at);
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER trg_messages_touch_conversation
    AFTER INSERT ON messages.messages
    FOR EACH ROW EXECUTE FUNCTION messages.touch_conversation();
