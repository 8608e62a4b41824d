-- Presence tracking for the presence-service. Adds a new schema only, so it
-- is safe to apply to a database that already holds auth/users/messages data.

CREATE SCHEMA presence;

CREATE TABLE presence.user_status (
    user_id        uuid PRIMARY KEY REFERENCES users.profiles (user_id) ON DELETE CASCADE,
    status         text        NOT NULL DEFAULT 'offline'
                   CHECK (status IN ('online', 'away', 'busy', 'invisible', 'offline')),
    custom_message text,
    last_device_id text,
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE presence.connections (
    connection_id     text PRIMARY KEY,
    user_id           uuid        NOT NULL REFERENCES users.profiles (user_id) ON DELETE CASCADE,
    device_id         text        NOT NULL,
    device_type       text        CHECK (device_type IN ('ios', 'android', 'web', 'desktop')),
    ip_address        inet,
    user_agent        text,
    server_id         text        NOT NULL,
    connected_at      timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
    disconnected_at   timestamptz
);
CREATE INDEX idx_connections_user_active ON presence.connections (user_id) WHERE disconnected_at IS NULL;
CREATE INDEX idx_connections_heartbeat ON presence.connections (last_heartbeat_at) WHERE disconnected_at IS NULL;

CREATE TABLE presence.typing_indicators (
    conversation_id uuid        NOT NULL REFERENCES messages.conversations (id) ON DELETE CASCADE,
    user_id         uuid        NOT NULL REFERENCES users.profiles (user_id) ON DELETE CASCADE,
    device_id       text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    last_updated_at timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL DEFAULT now() + interval '10 seconds',
    PRIMARY KEY (conversation_id, user_id)
);

CREATE TABLE presence.status_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users.profiles (user_id) ON DELETE CASCADE,
    old_status  text,
    new_status  text        NOT NULL,
    device_id   text,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_status_history_user ON presence.status_history (user_id, changed_at DESC);

-- Upsert the current status and record the transition in status_history.
CREATE FUNCTION presence.update_user_status(p_user_id uuid, p_status text, p_device_id text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_old text;
BEGIN
    SELECT status INTO v_old FROM presence.user_status WHERE user_id = p_user_id FOR UPDATE;

    INSERT INTO presence.user_status (user_id, status, last_device_id, last_seen_at, updated_at)
    VALUES (p_user_id, p_status, p_device_id, now(), now())
    ON CONFLICT (user_id) DO UPDATE
       SET status         = EXCLUDED.status,
           last_device_id = EXCLUDED.last_device_id,
           last_seen_at   = now(),
           updated_at     = now();

    IF v_old IS DISTINCT FROM p_status THEN
        INSERT INTO presence.status_history (user_id, old_status, new_status, device_id)
        VALUES (p_user_id, v_old, p_status, p_device_id);
    END IF;
END;
$$;

CREATE FUNCTION presence.cleanup_expired_typing()
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    DELETE FROM presence.typing_indicators WHERE expires_at < now();
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

-- Connections without a heartbeat for p_timeout are marked disconnected.
CREATE FUNCTION presence.cleanup_stale_connections(p_timeout interval DEFAULT interval '30 seconds')
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE presence.connections
       SET disconnected_at = now()
     WHERE disconnected_at IS NULL
       AND last_heartbeat_at < now() - p_timeout;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;
