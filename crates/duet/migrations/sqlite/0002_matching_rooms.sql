-- Search tickets, rooms, messages and reports. Times are milliseconds since the epoch.
-- Reports and rooms keep bare user ids (no foreign keys): moderation keeps them after
-- an account is erased.

-- One ticket per user: holding a ticket is what `searching` means.
CREATE TABLE search_tickets (
    user_id     BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,              -- chat | voice
    enqueued_at BIGINT  NOT NULL
);

CREATE TABLE rooms (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    user_a          BIGINT  NOT NULL,          -- the participant who waited longer
    user_b          BIGINT  NOT NULL,
    icebreaker      TEXT    NOT NULL,          -- JSON {topic, vi, en}
    score           BIGINT  NOT NULL,
    fallback        BIGINT  NOT NULL,          -- 0/1 (integers: sqlx's Any driver has no SQLite booleans)
    start_time      BIGINT  NOT NULL,
    end_time        BIGINT,
    end_reason      TEXT,
    -- The room state machine's fields (room/machine.rs), stored so timers survive a restart.
    reveal_level    BIGINT  NOT NULL DEFAULT 0,
    keep_a          BIGINT  NOT NULL DEFAULT 0,
    keep_b          BIGINT  NOT NULL DEFAULT 0,
    rounds_opened   BIGINT  NOT NULL DEFAULT 0,
    round_deadline  BIGINT,                    -- answer deadline of the open round, if any
    answer_a        BIGINT,                    -- 1 yes, 0 no, NULL not answered
    answer_b        BIGINT,
    next_like_at    BIGINT,
    no_match_streak BIGINT  NOT NULL DEFAULT 0,
    last_message_at BIGINT  NOT NULL,
    closed_since_a  BIGINT,                    -- NULL while a chat socket is open
    closed_since_b  BIGINT,
    last_seq        BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX rooms_active ON rooms (id) WHERE end_time IS NULL;
CREATE INDEX rooms_user_a ON rooms (user_a, start_time);
CREATE INDEX rooms_user_b ON rooms (user_b, start_time);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id     BIGINT  NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq         BIGINT  NOT NULL,
    user_id     BIGINT  NOT NULL,
    client_id   TEXT,
    content     TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    UNIQUE (room_id, seq),
    UNIQUE (room_id, user_id, client_id)
);

CREATE TABLE reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    reporter_id BIGINT  NOT NULL,
    reported_id BIGINT  NOT NULL,
    room_id     BIGINT  NOT NULL,
    reason      TEXT    NOT NULL,
    details     TEXT,
    evidence    TEXT    NOT NULL,              -- JSON array of the last messages
    created_at  BIGINT  NOT NULL,
    UNIQUE (reporter_id, room_id)
);
CREATE INDEX reports_reported ON reports (reported_id, created_at);
CREATE INDEX reports_reporter ON reports (reporter_id);
