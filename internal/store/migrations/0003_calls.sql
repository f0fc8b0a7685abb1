-- Call detail records (internal/calls), one per call attempt that left idle,
-- written in batches by a single writer at hundreds of thousands of rows a
-- second. Every index and constraint is paid on each of those inserts, so
-- the schema keeps what measured cheap (internal/calls, BenchmarkWriter):
--
-- * outcome and ended_by are small integer codes, not words: a CHECK on a
--   list of words, or an index on them, cost more than the rest of the
--   insert. The codes are calls.Outcome's and never change:
--   outcome   1 answered, 2 rejected, 3 busy, 4 no_frequency, 5 cancelled,
--             6 dropped;
--   ended_by  1 caller, 2 callee, 3 system.
-- * No index on caller or callee: the calls of thousands of phones land
--   all over such an index, and keeping the two cut the writer's
--   throughput by 4 to 8 times. A listing by MSISDN walks the table by id.
-- * No index on setup_at: calls last seconds, so new setup times land all
--   over the last seconds' pages of such an index, which cut the throughput
--   by 3 times. ended_at grows with the ids, so its index is only appended
--   to, and a call set up since a time also ended since then: that index
--   serves "since" listings.
--
-- AUTOINCREMENT so an id is never reused: ids are the paging cursor of
-- GET /api/v1/calls.
CREATE TABLE calls (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    caller      TEXT    NOT NULL,
    callee      TEXT    NOT NULL,
    frequency   INTEGER,          -- NULL: no frequency was allocated
    outcome     INTEGER NOT NULL CHECK (outcome BETWEEN 1 AND 6),
    ended_by    INTEGER NOT NULL CHECK (ended_by BETWEEN 1 AND 3),
    setup_at    INTEGER NOT NULL, -- unix nanoseconds, UTC, like every time column
    answered_at INTEGER,          -- NULL: never answered
    ended_at    INTEGER NOT NULL
);

-- An entry ends with the rowid, so "outcome = ? AND id > ?" is one range of
-- this index, in id order.
CREATE INDEX calls_outcome ON calls (outcome);
CREATE INDEX calls_ended_at ON calls (ended_at);
