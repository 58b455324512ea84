-- Console: operators' local accounts (their signing keys sealed), sign-in guards, sessions, and the audit of
-- every command an operator issued through the console (the command itself goes out through the outbox).

CREATE TABLE accounts (
    operator_id   text PRIMARY KEY,                 -- as in the operator registry (roles come from there)
    password_hash text NOT NULL,                    -- argon2id
    sealed_key    bytea NOT NULL,                   -- the operator's Ed25519 private key (PEM), Fernet-sealed
    key_id        text NOT NULL,                    -- its registry key id, shown by `accounts list`
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Wrong passwords in a row per login name, whether or not an account has that name (no account oracle).
CREATE TABLE sign_in_guards (
    login        text PRIMARY KEY,
    failed       int  NOT NULL DEFAULT 0,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Server-side sessions: the cookie holds a random token, the table only its SHA-256.
CREATE TABLE sessions (
    token_hash  bytea PRIMARY KEY,
    operator_id text NOT NULL REFERENCES accounts (operator_id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    language    text NOT NULL DEFAULT 'id' CHECK (language IN ('id', 'en')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Every signed command issued here, written in the same transaction as its outbox row.
CREATE TABLE actions (
    id           bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    operator_id  text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('review', 'ruling', 'run', 'approval', 'correction')),
    subject      text NOT NULL,                     -- claim id, run id, correction id
    command_type text NOT NULL,
    detail       jsonb NOT NULL,
    issued_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX actions_by_subject ON actions (subject, id);
