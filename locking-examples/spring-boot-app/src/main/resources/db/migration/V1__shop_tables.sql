-- The application's own schema, at Flyway's default location.
CREATE TABLE stock (product text PRIMARY KEY, left_count int NOT NULL CHECK (left_count >= 0));
INSERT INTO stock VALUES ('prod_123', 50);
CREATE TABLE sales (id bigserial PRIMARY KEY, product text NOT NULL, sold_at timestamptz NOT NULL DEFAULT now());
