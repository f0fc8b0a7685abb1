-- Cluster mode (docs/cluster.md). Every node keeps the cluster's call
-- records in its own calls table, mirrored from the replicated stream: the
-- id is the record's sequence in the stream (unique cluster-wide), and the
-- record says the cell, the node that wrote it and that node's epoch of
-- ownership of the cell. On a single node the three are NULL.
ALTER TABLE calls ADD COLUMN cell INTEGER;
ALTER TABLE calls ADD COLUMN node TEXT;
ALTER TABLE calls ADD COLUMN epoch INTEGER;

-- How far each mirrored stream is applied: the stream's identity (its
-- creation time: a cluster made afresh starts its streams again at 1) and
-- the sequence of the last message applied, written in the transaction
-- that applies it.
CREATE TABLE mirrors (
    stream TEXT PRIMARY KEY,
    uid    TEXT    NOT NULL,
    seq    INTEGER NOT NULL
);
