-- Transactional outbox: events are written in the same transaction as the
-- redemption and published to the broker by a relay afterwards.
CREATE TABLE redemption_schema.outbox (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    aggregate_type varchar(50)  NOT NULL,
    aggregate_id   uuid         NOT NULL,
    event_type     varchar(100) NOT NULL,
    payload        jsonb        NOT NULL,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    published_at   timestamptz,
    attempts       integer      NOT NULL DEFAULT 0
);

CREATE INDEX idx_outbox_unpublished ON redemption_schema.outbox (created_at)
    WHERE published_at IS NULL;
