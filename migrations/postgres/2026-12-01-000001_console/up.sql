-- Operator console sessions. Only the SHA-256 of the session id is stored (like API tokens);
-- each session stands for the API token it was opened with, so revoking the token ends it.
CREATE TABLE console_sessions (
    id           uuid        NOT NULL,
    session_hash text        NOT NULL,
    token_id     uuid        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz NULL,
    CONSTRAINT console_sessions_pkey PRIMARY KEY (id),
    CONSTRAINT console_sessions_session_hash_key UNIQUE (session_hash),
    CONSTRAINT console_sessions_token_id_fkey FOREIGN KEY (token_id)
        REFERENCES api_tokens (id) ON DELETE CASCADE,
    CONSTRAINT console_sessions_expires_after_creation CHECK (expires_at > created_at)
);

CREATE INDEX console_sessions_token_id_idx ON console_sessions (token_id);
