-- The database's own guarantee behind the duplicate-SEP rule: one episode (SEP) is verified in one claim.
CREATE UNIQUE INDEX claims_one_verified_per_sep ON claims (nomor_sep) WHERE has_verification;
