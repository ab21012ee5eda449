CREATE TABLE report_runs (id bigserial PRIMARY KEY, ran_at timestamptz NOT NULL DEFAULT now());
