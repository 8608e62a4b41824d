-- Redemption Service: redemptions at stations and the raffle tickets they earn.
CREATE SCHEMA IF NOT EXISTS redemption_schema;

CREATE TABLE redemption_schema.redemptions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    coupon_id      uuid          NOT NULL,   -- coupon_schema.coupons.id (other service)
    user_id        uuid          NOT NULL,   -- auth_schema.users.id (other service)
    station_id     uuid          NOT NULL,
    fuel_type      varchar(20)   CHECK (fuel_type IN ('REGULAR', 'PREMIUM', 'DIESEL')),
    fuel_liters    numeric(8,3)  CHECK (fuel_liters IS NULL OR fuel_liters > 0),
    amount         numeric(12,2) NOT NULL CHECK (amount >= 0),
    status         varchar(20)   NOT NULL DEFAULT 'PENDING'
                   CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED', 'REVERSED')),
    correlation_id uuid,
    redeemed_at    timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT redemptions_coupon_once UNIQUE (coupon_id)
);
CREATE INDEX idx_redemptions_user ON redemption_schema.redemptions (user_id, redeemed_at DESC);
CREATE INDEX idx_redemptions_station ON redemption_schema.redemptions (station_id, redeemed_at DESC);

CREATE TABLE redemption_schema.raffle_tickets (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    redemption_id uuid        NOT NULL REFERENCES redemption_schema.redemptions (id) ON DELETE CASCADE,
    user_id       uuid        NOT NULL,
    ticket_number varchar(20) NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE redemption_schema.ticket_number_seq;

-- One raffle ticket per completed redemption.
CREATE OR REPLACE FUNCTION redemption_schema.issue_raffle_ticket() RETURNS trigger AS $$
BEGIN
    IF NEW.status = 'COMPLETED' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'COMPLETED') THEN
        INSERT INTO redemption_schema.raffle_tickets (redemption_id, user_id, ticket_number)
        VALUES (NEW.id, NEW.user_id,
                'T-' || lpad(nextval('redemption_schema.ticket_number_seq')::text, 8, '0'));
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trg_redemptions_raffle_ticket
    AFTER INSERT OR UPDATE OF status ON redemption_schema.redemptions
    FOR EACH ROW EXECUTE FUNCTION redemption_schema.issue_raffle_ticket();
