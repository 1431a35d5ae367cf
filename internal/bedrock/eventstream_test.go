package bedrock

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

func TestFrameRoundTrip(t *testing.T) {
	events := []anthropic.Event{
		{Type: "message_start", Data: []byte(`{"type":"message_start","message":{"id":"msg_bdrk_1"}}`)},
		{Type: "content_block_delta", Data: []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"héllo \u2603"}}`)},
		{Type: "message_stop", Data: []byte(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":1}}`)},
	}
	var buf bytes.Buffer
	fw := NewFrameWriter(&buf)
	for _, ev := range events {
		if err := fw.WriteEvent(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.WriteException("throttlingException", "Too many requests, please wait before trying again."); err != nil {
		t.Fatal(err)
	}
	fr := NewFrameReader(&buf)
	var got []anthropic.Event
	for range events {
		f, err := fr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f.MessageType != "event" || f.EventType != "chunk" {
			t.Fatalf("frame type = %s/%s, want event/chunk", f.MessageType, f.EventType)
		}
		got = append(got, f.Event)
	}
	if diff := cmp.Diff(events, got); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	f, err := fr.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := Frame{MessageType: "exception", ExceptionType: "throttlingException", Message: "Too many requests, please wait before trying again."}
	f.Payload = nil
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("exception frame mismatch (-want +got):\n%s", diff)
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Errorf("Next() at end = %v, want io.EOF", err)
	}
}

func TestFrameReaderRejectsCorruption(t *testing.T) {
	var buf bytes.Buffer
	if err := NewFrameWriter(&buf).WriteEvent(anthropic.Event{Type: "ping", Data: []byte(`{"type":"ping"}`)}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	b[len(b)-6] ^= 0xff // payload byte: message CRC no longer matches
	if _, err := NewFrameReader(bytes.NewReader(b)).Next(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("Next() on corrupted frame = %v, want a CRC error", err)
	}
	if _, err := NewFrameReader(bytes.NewReader(b[:10])).Next(); err == nil {
		t.Fatal("Next() on a truncated frame succeeded")
	}
}

// FuzzFrameReader feeds arbitrary bytes to the event-stream decoder: it must
// return errors, never panic or allocate without bound.
func FuzzFrameReader(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.eventstream")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// The SDK's decoder is the reference: where both decode a frame,
		// they must agree on it.
		fr := NewFrameReader(bytes.NewReader(in))
		ref := bytes.NewReader(in)
		dec := eventstream.NewDecoder()
		for i := 0; i < 1000; i++ {
			f, err := fr.Next()
			msg, refErr := dec.Decode(ref, nil)
			if err != nil && !errors.Is(err, ErrBadChunk) {
				return
			}
			if refErr != nil {
				t.Fatalf("frame %d: decoded %+v where the SDK failed: %v", i, f, refErr)
			}
			if !bytes.Equal(f.Payload, msg.Payload) {
				t.Fatalf("frame %d: payload %q, SDK %q", i, f.Payload, msg.Payload)
			}
			if v := msg.Headers.Get(":message-type"); v != nil && v.String() != f.MessageType {
				t.Fatalf("frame %d: message type %q, SDK %q", i, f.MessageType, v.String())
			}
			if err != nil {
				return
			}
		}
	})
}

// TestWriteSeed regenerates the fuzz seed when run with -update.
func TestWriteSeed(t *testing.T) {
	var buf bytes.Buffer
	fw := NewFrameWriter(&buf)
	fw.WriteEvent(anthropic.Event{Type: "message_start", Data: []byte(`{"type":"message_start","message":{"usage":{"input_tokens":3}}}`)})
	fw.WriteEvent(anthropic.Event{Type: "message_stop", Data: []byte(`{"type":"message_stop"}`)})
	fw.WriteException("modelStreamErrorException", "boom")
	path := "testdata/stream.eventstream"
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		t.Errorf("encoded frames differ from %s (run go test -update if the change is intended)", path)
	}
}

// TestFrameReaderReady: a frame counts as ready only once it is buffered
// whole, since the relay holds a flush for a ready frame.
func TestFrameReaderReady(t *testing.T) {
	var buf bytes.Buffer
	fw := NewFrameWriter(&buf)
	for range 2 {
		if err := fw.WriteEvent(anthropic.Event{Type: "ping", Data: []byte(`{"type":"ping"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	frames := buf.Bytes()
	one := len(frames) / 2
	for _, tt := range []struct {
		name  string
		avail int // bytes the upstream has sent
		want  bool
	}{
		{"next frame whole", len(frames), true},
		{"next frame in part", len(frames) - 1, false},
		{"next prelude in part", one + 5, false},
		{"nothing more", one, false},
	} {
		r := &chunkedReader{data: frames[:tt.avail], chunk: tt.avail}
		fr := NewFrameReader(r)
		if _, err := fr.Next(); err != nil {
			t.Fatal(err)
		}
		if got := fr.Ready(); got != tt.want {
			t.Errorf("%s: Ready() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// chunkedReader returns data in reads of at most chunk bytes.
type chunkedReader struct {
	data  []byte
	chunk int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.chunk)], c.data)
	c.data = c.data[n:]
	return n, nil
}
