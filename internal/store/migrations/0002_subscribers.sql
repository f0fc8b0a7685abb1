-- The HLR's provisioned subscribers (internal/hlr). The msisdn text is the
-- key and the paging cursor: its byte order is the order hlr.MSISDN values
-- compare in. WITHOUT ROWID stores the rows in the primary-key b-tree
-- itself, instead of a rowid table plus an index on msisdn: half the writes
-- per insert and less space for millions of rows.
CREATE TABLE subscribers (
    msisdn         TEXT    NOT NULL PRIMARY KEY
                   CHECK (length(msisdn) BETWEEN 1 AND 15 AND msisdn NOT GLOB '*[^0-9]*'),
    imsi           TEXT    UNIQUE -- NULL when not given; several NULLs are allowed
                   CHECK (imsi IS NULL OR (length(imsi) = 15 AND imsi NOT GLOB '*[^0-9]*')),
    created_at     INTEGER NOT NULL, -- unix nanoseconds, UTC, like every time column
    last_attach_at INTEGER,          -- NULL until the first attach
    last_detach_at INTEGER           -- NULL until the first detach
) WITHOUT ROWID;
