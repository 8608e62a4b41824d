-- Everything added by 000002 lives in the presence schema.
DROP SCHEMA IF EXISTS presence CASCADE;
