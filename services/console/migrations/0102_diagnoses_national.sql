-- Claim value by month, principal diagnosis and severity over every hospital, kept beside the per-hospital
-- rows by the same deltas: the national top-10 and the national severity mix read ~2,000 rows a month instead
-- of grouping ~70,000 at a million claims; a hospital's own rows are found by its index.
CREATE TABLE analytics_diagnoses_national (
    month          date   NOT NULL,
    primary_dx     text   NOT NULL,
    severity       text   NOT NULL,
    claims         bigint NOT NULL DEFAULT 0,
    grouped_tarif  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (month, primary_dx, severity)
);
INSERT INTO analytics_diagnoses_national
SELECT month, primary_dx, severity, sum(claims), sum(grouped_tarif) FROM analytics_diagnoses GROUP BY 1, 2, 3;
CREATE INDEX analytics_diagnoses_by_hospital ON analytics_diagnoses (month, kode_rs);
