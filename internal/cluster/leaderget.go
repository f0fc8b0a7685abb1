package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// errNoKey: the key has no value (never written, or deleted).
var errNoKey = errors.New("no such key")

// leaderGet reads key of bucket from the bucket's Raft leader, through the
// stream API rather than a direct get (which any replica answers, one
// behind included): what a quorum acknowledged is there. It returns the
// value and its revision, or errNoKey.
func (e *Engine) leaderGet(ctx context.Context, bucket, key string) ([]byte, uint64, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": "$KV." + bucket + "." + key})
	res, err := e.NC.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, 0, err
	}
	var answer struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Data []byte `json:"data"`
			Hdrs []byte `json:"hdrs"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(res.Data, &answer); err != nil {
		return nil, 0, err
	}
	switch {
	case answer.Error != nil && answer.Error.Code == 404:
		return nil, 0, errNoKey
	case answer.Error != nil:
		return nil, 0, fmt.Errorf("get %s/%s: %s", bucket, key, answer.Error.Description)
	case answer.Message == nil:
		return nil, 0, errNoKey
	}
	if len(answer.Message.Hdrs) > 0 {
		if h, err := nats.DecodeHeadersMsg(answer.Message.Hdrs); err == nil {
			if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" || h.Get("Nats-Marker-Reason") != "" {
				return nil, 0, errNoKey
			}
		}
	}
	return bytes.Clone(answer.Message.Data), answer.Message.Seq, nil
}
