-- jwtkeys/refreshpg: one row per refresh token ever issued (until it
-- expires and DeleteExpired removes it). No token is stored, only its jti.
CREATE TABLE IF NOT EXISTS jwt_refresh_tokens (
    jti        text        PRIMARY KEY,
    family     text        NOT NULL,
    sub        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    spent_at   timestamptz,
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS jwt_refresh_tokens_family ON jwt_refresh_tokens (family);
CREATE INDEX IF NOT EXISTS jwt_refresh_tokens_sub ON jwt_refresh_tokens (sub) WHERE revoked_at IS NULL;
CREATE INDEX IF NOT EXISTS jwt_refresh_tokens_expires ON jwt_refresh_tokens (expires_at);
