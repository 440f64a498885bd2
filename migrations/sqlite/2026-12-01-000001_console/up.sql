-- Operator console sessions: the same table as the PostgreSQL migration (instants as
-- fixed-width RFC 3339 TEXT, like every other table here).
CREATE TABLE console_sessions (
    id           TEXT NOT NULL,
    session_hash TEXT NOT NULL,
    token_id     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    ended_at     TEXT NULL,
    CONSTRAINT console_sessions_pkey PRIMARY KEY (id),
    CONSTRAINT console_sessions_session_hash_key UNIQUE (session_hash),
    CONSTRAINT console_sessions_token_id_fkey FOREIGN KEY (token_id)
        REFERENCES api_tokens (id) ON DELETE CASCADE,
    CONSTRAINT console_sessions_expires_after_creation CHECK (expires_at > created_at)
) STRICT;

CREATE INDEX console_sessions_token_id_idx ON console_sessions (token_id);
