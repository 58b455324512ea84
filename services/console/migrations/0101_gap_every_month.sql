-- The tariff gap over every month, kept beside the monthly rows by the same deltas: "every month" reads one
-- row per hospital and CBG instead of summing ~600,000 monthly rows at a million claims (bench/console_read_model.py).
CREATE TABLE analytics_gap_all (
    kode_rs        text   NOT NULL,
    cbg_code       text   NOT NULL,
    claims         bigint NOT NULL DEFAULT 0,
    tarif_rs       bigint NOT NULL DEFAULT 0,
    grouped_tarif  bigint NOT NULL DEFAULT 0,
    verified       bigint NOT NULL DEFAULT 0,
    verified_rs    bigint NOT NULL DEFAULT 0,
    approved       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (kode_rs, cbg_code)
);
INSERT INTO analytics_gap_all
SELECT kode_rs, cbg_code, sum(claims), sum(tarif_rs), sum(grouped_tarif), sum(verified), sum(verified_rs), sum(approved)
FROM analytics_gap GROUP BY kode_rs, cbg_code;
