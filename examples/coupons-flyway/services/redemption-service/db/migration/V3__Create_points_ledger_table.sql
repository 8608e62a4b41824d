-- Legacy points system: an append-only ledger, balances are derived.
CREATE TABLE redemption_schema.points_ledger (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       uuid        NOT NULL,
    redemption_id uuid        REFERENCES redemption_schema.redemptions (id) ON DELETE SET NULL,
    delta         integer     NOT NULL CHECK (delta <> 0),
    reason        varchar(50) NOT NULL CHECK (reason IN ('REDEMPTION', 'BONUS', 'EXPIRY', 'ADJUSTMENT')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_points_ledger_user ON redemption_schema.points_ledger (user_id, created_at);

CREATE VIEW redemption_schema.user_point_balances AS
SELECT user_id, sum(delta) AS balance, max(created_at) AS last_movement_at
  FROM redemption_schema.points_ledger
 GROUP BY user_id;
