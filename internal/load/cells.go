package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// cellBody is one cell's answer to a per-cell route.
type cellBody[T any] struct {
	cell int
	body T
}

// cellsOf reads a per-cell route (frequencies, overload counters) from any
// target, and returns every cell's body. A single node answers the body
// of its one cell, cell 0; a cluster answers {"cells": [{"cell": N,
// ...that cell's body...}, ...]} (cluster.md), where a cell whose owner
// could not answer has an "error": that is an error naming the cell.
func cellsOf[T any](ctx context.Context, d *driver, path string) ([]cellBody[T], error) {
	var raw json.RawMessage
	if a := d.c.do(ctx, d.c.spread(), http.MethodGet, path, nil, &raw); !a.ok() {
		return nil, d.setupError("GET "+path, a)
	}
	var cluster struct {
		Cells []json.RawMessage `json:"cells"`
	}
	if err := json.Unmarshal(raw, &cluster); err != nil {
		return nil, fmt.Errorf("GET %s: %v", path, err)
	}
	if cluster.Cells == nil {
		var one cellBody[T]
		if err := json.Unmarshal(raw, &one.body); err != nil {
			return nil, fmt.Errorf("GET %s: %v", path, err)
		}
		return []cellBody[T]{one}, nil
	}
	out := make([]cellBody[T], 0, len(cluster.Cells))
	for _, c := range cluster.Cells {
		var head struct {
			Cell  int `json:"cell"`
			Error *struct {
				Code   string `json:"code"`
				Detail string `json:"detail"`
			} `json:"error"`
		}
		if err := json.Unmarshal(c, &head); err != nil {
			return nil, fmt.Errorf("GET %s: %v", path, err)
		}
		if head.Error != nil {
			return nil, fmt.Errorf("GET %s: cell %d: %s (%s)", path, head.Cell, head.Error.Code, head.Error.Detail)
		}
		one := cellBody[T]{cell: head.Cell}
		if err := json.Unmarshal(c, &one.body); err != nil {
			return nil, fmt.Errorf("GET %s: cell %d: %v", path, head.Cell, err)
		}
		out = append(out, one)
	}
	return out, nil
}

// frequencies is GET /api/v1/frequencies for one cell, as the driver
// reads it.
type frequencies struct {
	Pool      []int `json:"pool"`
	Blocked   []int `json:"blocked"`
	Allocated []struct {
		Frequency int    `json:"frequency"`
		Owner     string `json:"owner"`
	} `json:"allocated"`
}
