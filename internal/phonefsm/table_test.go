package phonefsm

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestTableIsTheDocs lays the code's transition table beside the one of
// docs/domain.md §3 and ticks the rows: same rows (state | input | next),
// same order. A change to either without the other fails here.
func TestTableIsTheDocs(t *testing.T) {
	docs := docsTable(t, "../../docs/domain.md")
	code := Table()
	for i := range max(len(docs), len(code)) {
		var d, c TableRow
		if i < len(docs) {
			d = docs[i]
		}
		if i < len(code) {
			c = code[i]
		}
		if d != c {
			t.Errorf("row %d:\n  docs: %q\n  code: %q", i+1, d, c)
		}
	}
}

// docsTable reads the table whose header is "| state | input | effect |
// next |": every row's state, input and next.
func docsTable(t *testing.T, path string) []TableRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []TableRow
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		cells := cellsOf(line)
		switch {
		case slices.Equal(cells, []string{"state", "input", "effect", "next"}):
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && len(cells) == 4:
			rows = append(rows, TableRow{cells[0], cells[1], cells[3]})
		case in:
			return rows
		}
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no transition table (| state | input | effect | next |)", path)
	}
	return rows
}

func cellsOf(line string) []string {
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") {
		return nil
	}
	parts := strings.Split(strings.Trim(line, "|"), "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
