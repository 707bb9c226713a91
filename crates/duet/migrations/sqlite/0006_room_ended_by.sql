-- Who ended a room with *End* (a participant's user id; NULL for every other end):
-- the ended screen says "you ended" or "they ended" instead of "one of you". A bare id,
-- like the audit list's, so it outlives an erased account.
ALTER TABLE rooms ADD COLUMN ended_by BIGINT;
