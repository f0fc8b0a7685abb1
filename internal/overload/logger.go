package overload

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"
)

// stdout is the logger target that writes to the process's standard output.
const stdout = "stdout"

// logger writes each event as a record numbered from 1, one JSON line in the
// shape of the service's own zerolog lines (level, time in zerolog's time
// format, message), so that one log pipeline reads both:
//
//	{"level":"info","record":7,"kind":"set_alarm","id":"no_frequency","source":"frequency","time":"2025-01-02T03:04:05Z","message":"overload event"}
//
// time is the event's. Its state is the number of the next record, so a
// swap to another target goes on counting.
type logger struct {
	target string
	w      io.Writer
	file   *os.File // nil for stdout, which is not ours to close
	next   uint64
	buf    bytes.Buffer   // one record, written in one Write
	zl     zerolog.Logger // formats records into buf
}

// openLogger opens target ("" or "stdout", or a file appended to).
func openLogger(target string) (*logger, error) {
	l := &logger{target: stdout, w: os.Stdout, next: 1}
	if target != "" && target != stdout {
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidTarget, err)
		}
		l.target, l.w, l.file = target, f, f
	}
	l.zl = zerolog.New(&l.buf)
	return l, nil
}

func (l *logger) Name() string { return HandlerLogger }

func (l *logger) Target() string { return l.target }

func (l *logger) Handle(e Event) error {
	l.buf.Reset()
	// Every event is a record whatever the service's log level: Log() is
	// zerolog's level-less event, which the global level does not filter,
	// with the level written as an info line's.
	rec := l.zl.Log().Str(zerolog.LevelFieldName, zerolog.LevelInfoValue).
		Uint64("record", l.next).Str("kind", e.Kind.String()).Str("id", e.ID)
	if e.Source != "" {
		rec = rec.Str("source", e.Source)
	}
	rec.Time(zerolog.TimestampFieldName, e.At).Msg("overload event")
	l.next++
	// One write per record, so a concurrent reader of the file never sees
	// half a line.
	if _, err := l.w.Write(l.buf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", l.target, err)
	}
	return nil
}

func (l *logger) Terminate() any {
	if l.file != nil {
		l.file.Close()
	}
	return l.next
}

func (l *logger) resume(state any) {
	if n, ok := state.(uint64); ok {
		l.next = n
	}
}
