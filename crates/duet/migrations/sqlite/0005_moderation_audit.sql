-- The moderators' audit list: every moderation action, by whom (NULL: the automatic
-- ban), when, and on what. Like reports, it keeps bare ids (no foreign keys), so the
-- record outlives the accounts and rooms it names.
CREATE TABLE moderation_actions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at BIGINT  NOT NULL,
    admin_id   BIGINT,
    action     TEXT    NOT NULL,   -- ban | autoban | unban | report_dismissed | report_actioned | room_ended | user_updated
    user_id    BIGINT,
    report_id  BIGINT,
    room_id    BIGINT,
    details    TEXT
);
CREATE INDEX moderation_actions_user ON moderation_actions (user_id, id);

-- The dashboard counts room ends by reason over the last hour and day.
CREATE INDEX rooms_ended_at ON rooms (end_time);
-- The reports queue filters by state.
CREATE INDEX reports_state ON reports (state, id);
-- Who resolved a report (an administrator's id).
ALTER TABLE reports ADD COLUMN resolved_by BIGINT;
