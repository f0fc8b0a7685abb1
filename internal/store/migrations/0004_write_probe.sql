-- One row the service rewrites to prove the database can be written: at
-- start (a file or directory it cannot write is refused then) and while
-- writes fail, to notice when they work again.
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
);
