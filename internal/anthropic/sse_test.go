package anthropic

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readAll(t testing.TB, r *SSEReader) ([]Event, error) {
	t.Helper()
	var out []Event
	for {
		ev, err := r.Next()
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Event
		wantErr error
	}{
		{
			name: "typical anthropic stream",
			in:   "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
			want: []Event{
				{Type: "message_start", Data: []byte(`{"type":"message_start"}`)},
				{Type: "ping", Data: []byte(`{"type": "ping"}`)},
			},
			wantErr: io.EOF,
		},
		{
			name:    "type from data when no event line",
			in:      "data: {\"type\":\"message_stop\"}\n\n",
			want:    []Event{{Type: "message_stop", Data: []byte(`{"type":"message_stop"}`)}},
			wantErr: io.EOF,
		},
		{
			name:    "CRLF line endings and comments",
			in:      ": keep-alive\r\nevent: ping\r\ndata: {}\r\n\r\n",
			want:    []Event{{Type: "ping", Data: []byte(`{}`)}},
			wantErr: io.EOF,
		},
		{
			name:    "multi-line data joined with newline",
			in:      "event: x\ndata: {\"a\":\ndata: 1}\n\n",
			want:    []Event{{Type: "x", Data: []byte("{\"a\":\n1}")}},
			wantErr: io.EOF,
		},
		{
			name:    "no space after colon",
			in:      "event:x\ndata:{}\n\n",
			want:    []Event{{Type: "x", Data: []byte(`{}`)}},
			wantErr: io.EOF,
		},
		{
			name:    "cut inside an event",
			in:      "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: content_block_delta\ndata: {\"ty",
			want:    []Event{{Type: "message_start", Data: []byte(`{"type":"message_start"}`)}},
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "stray blank lines",
			in:      "\n\n\nevent: a\ndata: 1\n\n\n",
			want:    []Event{{Type: "a", Data: []byte("1")}},
			wantErr: io.EOF,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, NewSSEReader(strings.NewReader(tt.in)))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSSELineTooLong(t *testing.T) {
	in := "data: " + strings.Repeat("x", MaxSSELine+10) + "\n\n"
	_, err := NewSSEReader(strings.NewReader(in)).Next()
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("Next() error = %v, want ErrLineTooLong", err)
	}
}

func TestSSEEventTooLong(t *testing.T) {
	line := "data: " + strings.Repeat("x", 1<<20) + "\n"
	in := strings.Repeat(line, 9) + "\n"
	_, err := NewSSEReader(strings.NewReader(in)).Next()
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("Next() on a 9 MiB event = %v, want ErrLineTooLong", err)
	}
}

func TestAppendSSERoundTrip(t *testing.T) {
	events := []Event{
		{Type: "message_start", Data: []byte(`{"type":"message_start","message":{"id":"m"}}`)},
		{Type: "content_block_delta", Data: []byte("{\"type\":\"content_block_delta\",\n\"delta\":{\"text\":\"a\\nb\"}}")},
		{Type: "message_stop", Data: []byte(`{"type":"message_stop"}`)},
	}
	var buf []byte
	for _, ev := range events {
		buf = AppendSSE(buf, ev)
	}
	got, err := readAll(t, NewSSEReader(bytes.NewReader(buf)))
	if err != io.EOF {
		t.Fatalf("read error = %v", err)
	}
	if diff := cmp.Diff(events, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

// FuzzSSEReader checks the parser never panics or loops, and that whatever it
// parses survives a write/read round trip unchanged.
func FuzzSSEReader(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.sse")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("event: a\ndata: b\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		events, _ := readAll(t, NewSSEReader(bytes.NewReader(in)))
		var buf []byte
		for _, ev := range events {
			if strings.ContainsAny(ev.Type, "\r\n") || bytes.Contains(ev.Data, []byte("\r")) {
				return // not representable in one event line; nothing to round-trip
			}
			buf = AppendSSE(buf, ev)
		}
		again, err := readAll(t, NewSSEReader(bytes.NewReader(buf)))
		if err != io.EOF {
			t.Fatalf("re-read error = %v", err)
		}
		if len(again) != len(events) {
			t.Fatalf("re-read %d events, want %d", len(again), len(events))
		}
		for i := range events {
			if !bytes.Equal(again[i].Data, events[i].Data) {
				t.Fatalf("event %d data = %q, want %q", i, again[i].Data, events[i].Data)
			}
		}
	})
}

// TestSSEReaderReady: an event counts as ready only once its blank line is
// buffered, since the relay holds a flush for a ready event.
func TestSSEReaderReady(t *testing.T) {
	first := "event: ping\ndata: {\"type\":\"ping\"}\n\n"
	for _, tt := range []struct {
		name, rest string
		want       bool
	}{
		{"next event whole", "event: ping\ndata: {}\n\n", true},
		{"next event whole, CRLF", "event: ping\r\ndata: {}\r\n\r\n", true},
		{"next event in part", "event: ping\ndata: {}\n", false},
		{"nothing more", "", false},
	} {
		r := NewSSEReader(strings.NewReader(first + tt.rest))
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		if got := r.Ready(); got != tt.want {
			t.Errorf("%s: Ready() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
