-- The page's widest tariff gaps read in gap order from an index (0.6 ms instead of ~70-150 ms for a top-N sort
-- over a month's ~50,000 hospital x CBG rows at a million claims; bench/console_read_model.py).
CREATE INDEX analytics_gap_widest ON analytics_gap (month, (tarif_rs - grouped_tarif) DESC);
CREATE INDEX analytics_gap_all_widest ON analytics_gap_all ((tarif_rs - grouped_tarif) DESC);
