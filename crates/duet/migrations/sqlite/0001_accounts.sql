-- Accounts, refresh tokens and avatars. Times are milliseconds since the Unix epoch;
-- lists of vocabulary ids are stored comma-separated (ids never contain commas).
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT    NOT NULL,
    username_key    TEXT    NOT NULL UNIQUE,   -- lower-cased: usernames are unique case-insensitively
    email           TEXT    UNIQUE,            -- lower-cased
    password_hash   TEXT    NOT NULL,
    role            TEXT    NOT NULL DEFAULT 'user',
    nickname        TEXT,
    nickname_key    TEXT,                      -- lower-cased (all of Unicode) for search
    dob             TEXT,                      -- YYYY-MM-DD
    gender          TEXT,
    preferred_gender TEXT,
    needs           TEXT,
    interests       TEXT,
    avatar_version  BIGINT,
    token_version   BIGINT  NOT NULL DEFAULT 0,
    banned_until    BIGINT,
    ban_reason      TEXT,
    current_room_id BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX users_created_at ON users (created_at);

CREATE TABLE refresh_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family      TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL UNIQUE,       -- SHA-256 of the token: the token itself is never stored
    issued_at   BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    revoked_at  BIGINT,
    revoked_reason TEXT                        -- rotated | reuse | logout | ban
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE avatars (
    user_id        BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version        BIGINT  NOT NULL,
    full_image     BLOB    NOT NULL,
    semi_image     BLOB    NOT NULL,
    blurred_image  BLOB    NOT NULL,
    updated_at     BIGINT  NOT NULL
);

-- Secrets the server generates for itself (the JWT signing key when none is
-- configured). Kept in the database so every instance of a deployment shares them.
CREATE TABLE server_secrets (
    name        TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
