-- Coupon Service: campaigns, QR-signed coupons and their usage history.
CREATE SCHEMA IF NOT EXISTS coupon_schema;

CREATE TABLE coupon_schema.campaigns (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name           varchar(200)  NOT NULL,
    discount_type  varchar(20)   NOT NULL CHECK (discount_type IN ('PERCENTAGE', 'FIXED_AMOUNT')),
    discount_value numeric(10,2) NOT NULL CHECK (discount_value > 0),
    starts_at      timestamptz   NOT NULL,
    ends_at        timestamptz   NOT NULL,
    max_uses       integer       CHECK (max_uses IS NULL OR max_uses > 0),
    used_count     integer       NOT NULL DEFAULT 0,
    is_active      boolean       NOT NULL DEFAULT true,
    created_at     timestamptz   NOT NULL DEFAULT now(),
    updated_at     timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT campaigns_dates CHECK (ends_at > starts_at),
    CONSTRAINT campaigns_percentage_max CHECK (discount_type <> 'PERCENTAGE' OR discount_value <= 100)
);

CREATE TABLE coupon_schema.coupons (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id  uuid         NOT NULL REFERENCES coupon_schema.campaigns (id) ON DELETE CASCADE,
    code         varchar(32)  NOT NULL UNIQUE,
    qr_signature varchar(256) NOT NULL,
    status       varchar(20)  NOT NULL DEFAULT 'ACTIVE'
                 CHECK (status IN ('ACTIVE', 'REDEEMED', 'EXPIRED', 'CANCELLED')),
    owner_id     uuid,        -- auth_schema.users.id; no cross-schema FK between services
    expires_at   timestamptz  NOT NULL,
    redeemed_at  timestamptz,
    created_at   timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX idx_coupons_campaign_status ON coupon_schema.coupons (campaign_id, status);
CREATE INDEX idx_coupons_owner_active ON coupon_schema.coupons (owner_id) WHERE status = 'ACTIVE';

CREATE TABLE coupon_schema.coupon_usage_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    coupon_id  uuid        NOT NULL REFERENCES coupon_schema.coupons (id) ON DELETE CASCADE,
    station_id uuid,
    old_status varchar(20),
    new_status varchar(20) NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- Keep campaign usage counts and the history in step with coupon status.
CREATE OR REPLACE FUNCTION coupon_schema.track_coupon_status() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO coupon_schema.coupon_usage_history (coupon_id, old_status, new_status)
        VALUES (NEW.id, OLD.status, NEW.status);

        IF NEW.status = 'REDEEMED' THEN
            NEW.redeemed_at := coalesce(NEW.redeemed_at, now());
            UPDATE coupon_schema.campaigns
               SET used_count = used_count + 1, updated_at = now()
             WHERE id = NEW.campaign_id;
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trg_coupons_status
    BEFORE UPDATE OF status ON coupon_schema.coupons
    FOR EACH ROW EXECUTE FUNCTION coupon_schema.track_coupon_status();

CREATE VIEW coupon_schema.active_campaigns AS
SELECT id, name, discount_type, discount_value, starts_at, ends_at, max_uses, used_count
  FROM coupon_schema.campaigns
 WHERE is_active
   AND now() BETWEEN starts_at AND ends_at
   AND (max_uses IS NULL OR used_count < max_uses);
