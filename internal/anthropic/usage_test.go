package anthropic

import (
	"io"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tollgate-gw/tollgate/internal/tokens"
)

func TestUsageFromStream(t *testing.T) {
	f, err := os.Open("testdata/stream.sse")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var u Usage
	r := NewSSEReader(f)
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		u.ObserveEvent(ev)
	}
	want := Usage{Counts: tokens.Counts{Input: 25, Output: 15, CacheRead: 50, CacheWrite5m: 100}, StopReason: "end_turn", SawMessageStop: true}
	if diff := cmp.Diff(want, u, cmpopts.IgnoreUnexported(Usage{})); diff != "" {
		t.Errorf("usage mismatch (-want +got):\n%s", diff)
	}
}

func TestUsageMerging(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		want   Usage
	}{
		{
			name: "cache only on message_delta, never summed with message_start",
			events: []Event{
				{Type: EventMessageStart, Data: []byte(`{"message":{"usage":{"input_tokens":10,"output_tokens":1}}}`)},
				{Type: EventMessageDelta, Data: []byte(`{"delta":{"stop_reason":"tool_use"},"usage":{"input_tokens":10,"cache_read_input_tokens":7,"output_tokens":30}}`)},
			},
			want: Usage{Counts: tokens.Counts{Input: 10, Output: 30, CacheRead: 7}, StopReason: "tool_use"},
		},
		{
			name: "bedrock invocation metrics on message_stop",
			events: []Event{
				{Type: EventMessageStart, Data: []byte(`{"message":{"usage":{"input_tokens":3,"output_tokens":1}}}`)},
				{Type: EventMessageStop, Data: []byte(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":3,"outputTokenCount":9,"cacheReadInputTokenCount":0,"cacheWriteInputTokenCount":1200}}`)},
			},
			want: Usage{Counts: tokens.Counts{Input: 3, Output: 9, CacheWrite5m: 1200}, SawMessageStop: true},
		},
		{
			name: "total first, split later: never counted twice",
			events: []Event{
				{Type: EventMessageStart, Data: []byte(`{"message":{"usage":{"input_tokens":3,"cache_creation_input_tokens":100}}}`)},
				{Type: EventMessageDelta, Data: []byte(`{"usage":{"output_tokens":5,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":100}}}`)},
			},
			want: Usage{Counts: tokens.Counts{Input: 3, Output: 5, CacheWrite1h: 100}},
		},
		{
			name: "ttl split",
			events: []Event{
				{Type: EventMessageStart, Data: []byte(`{"message":{"usage":{"input_tokens":3,"cache_creation_input_tokens":300,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200}}}}`)},
			},
			want: Usage{Counts: tokens.Counts{Input: 3, CacheWrite5m: 100, CacheWrite1h: 200}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u Usage
			for _, ev := range tt.events {
				u.ObserveEvent(ev)
			}
			if diff := cmp.Diff(tt.want, u, cmpopts.IgnoreUnexported(Usage{})); diff != "" {
				t.Errorf("usage mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
