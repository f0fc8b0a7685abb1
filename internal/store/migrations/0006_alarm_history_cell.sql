-- Cluster mode (docs/cluster.md): a node runs several cells, each with its
-- own overload manager, and keeps their alarm histories in this one table.
-- cell is the cell whose manager raised or cleared the alarm, node the node
-- that ran it then. On a single node, and in the rows written before this
-- migration, cell is NULL and node ''.
ALTER TABLE alarm_history ADD COLUMN cell INTEGER;
ALTER TABLE alarm_history ADD COLUMN node TEXT NOT NULL DEFAULT '';

-- A cell's history in seq order (GET /api/v1/alarms/history?cell=N) and in
-- time order (the cluster's list of every cell). An entry ends with the
-- rowid, so "cell = ? AND id > ?" is one range of the first, in id order,
-- and "cell = ? AND (at, id) > (?, ?)" one range of the second, in time
-- order. Partial: a single node's rows have no cell and cost them nothing.
CREATE INDEX alarm_history_cell ON alarm_history (cell) WHERE cell IS NOT NULL;
CREATE INDEX alarm_history_cell_at ON alarm_history (cell, at) WHERE cell IS NOT NULL;
