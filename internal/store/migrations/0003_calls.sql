-- Call detail records (internal/calls), one per call attempt that left idle,
-- written in batches by a single writer at up to hundreds of thousands of
-- rows a second. Every index and constraint here is paid on each of those
-- inserts, so the schema keeps only what measured cheap:
--
-- * outcome and ended_by are small integer codes, not words: an index on a
--   text outcome, or a CHECK on a text list, cost more than the whole
--   insert of an integer row. The codes are calls.Outcome's and never change:
--   outcome   1 answered, 2 rejected, 3 busy, 4 no_frequency, 5 cancelled,
--             6 dropped;
--   ended_by  1 caller, 2 callee, 3 system.
-- * There is no index on caller or callee. New calls of thousands of phones
--   land all over such an index, and maintaining two of them cut the
--   writer's throughput by 3 to 6 times (internal/calls, BenchmarkWriter).
--   A listing by MSISDN scans by id instead, stopping once a page is full.
-- * The indexes kept grow at their right edge only: outcome has six values,
--   and setup_at follows the clock.
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

-- An index entry ends with the rowid, so "outcome = ? AND id > ?" is one
-- range of this index, already in id order.
CREATE INDEX calls_outcome ON calls (outcome);
CREATE INDEX calls_ended_at ON calls (ended_at);
