package load

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

func TestStreamParse(t *testing.T) {
	in := ": stream open\r\n\r\n" +
		"id: 4670000001:1\nevent: inbound\ndata: {\"seq\":1,\"msisdn\":\"4670000001\",\"type\":\"inbound\",\"from\":\"4670000002\",\"at\":\"2026-01-01T00:00:00Z\"}\n\n" +
		": heartbeat\n\n" +
		"event: busy\r\ndata: {\"seq\":2,\"msisdn\":\"4670000003\",\r\ndata: \"type\":\"busy\",\"node\":\"n2\"}\r\n\r\n" +
		"event: error\ndata: {\"type\":\"urn:bsc:problem:overloaded\",\"status\":503,\"code\":\"overloaded\"}\n\n" +
		"data: not json\n\n" +
		"data: {\"msisdn\":\"4670000005\",\"type\":\"hangup\"}\n\n" + // no seq: not a reply api.md has
		"data: {\"seq\":3,\"msisdn\":\"4670000004\",\"type\":\"hangup\"}\n" // no blank line: not dispatched
	var got []reply
	s := &stream{node: 2, deliver: func(r reply) { got = append(got, r) }}
	err := s.read(bufio.NewReader(strings.NewReader(in)))
	if err != io.EOF {
		t.Errorf("read ended with %v, want EOF", err)
	}
	want := []reply{
		{Seq: 1, MSISDN: "4670000001", Type: "inbound", From: "4670000002"},
		{Seq: 2, MSISDN: "4670000003", Type: "busy", Node: "n2"},
	}
	if len(got) != len(want) {
		t.Fatalf("replies %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reply %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestStreamLineBound(t *testing.T) {
	s := &stream{deliver: func(reply) { t.Error("delivered a reply from an endless line") }}
	err := s.read(bufio.NewReaderSize(strings.NewReader("data: "+strings.Repeat("x", maxEventLine+10)+"\n\n"), 16))
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("err %v, want line too long", err)
	}
}
