-- Voice calls: one row per call of a room, numbered within the room. Erased with the
-- room's messages when the room ends; only aggregates (counts, durations) outlive it,
-- in the metrics.
CREATE TABLE calls (
    room_id      BIGINT  NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    number       BIGINT  NOT NULL,
    caller_id    BIGINT  NOT NULL,
    started_at   BIGINT  NOT NULL,
    answered_at  BIGINT,
    caller_muted BIGINT  NOT NULL DEFAULT 0,
    callee_muted BIGINT  NOT NULL DEFAULT 0,
    ended_at     BIGINT,
    end_reason   TEXT,
    -- From answer to end, for an answered call that has ended.
    duration_ms  BIGINT,
    PRIMARY KEY (room_id, number)
);
CREATE INDEX calls_open ON calls (ended_at);
