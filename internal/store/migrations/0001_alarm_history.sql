-- Every raise and clear of an alarm, oldest first. AUTOINCREMENT so an id is
-- never reused: ids are the paging cursor of GET /api/v1/alarms/history.
CREATE TABLE alarm_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm       TEXT    NOT NULL,
    action      TEXT    NOT NULL CHECK (action IN ('set', 'clear')),
    severity    TEXT    NOT NULL,
    source      TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL -- unix nanoseconds, UTC
);
