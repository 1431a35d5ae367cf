package tokens

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// each has a distinct power of ten in every kind, so a sum that misses or
// doubles a kind shows which.
var each = Counts{Input: 1, Output: 10, CacheWrite5m: 100, CacheWrite1h: 1000, CacheRead: 10000}

func TestCounts(t *testing.T) {
	tests := []struct {
		name string
		f    func(Counts) int64
		want int64
	}{
		{"Total", Counts.Total, 11111},
		{"Prompt", Counts.Prompt, 11101},
		{"CacheWrite", Counts.CacheWrite, 1100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f(each); got != tt.want {
				t.Errorf("%s(%+v) = %d, want %d", tt.name, each, got, tt.want)
			}
		})
	}
}

func TestAdd(t *testing.T) {
	c := each
	c.Add(each)
	c.Add(Counts{})
	want := Counts{Input: 2, Output: 20, CacheWrite5m: 200, CacheWrite1h: 2000, CacheRead: 20000}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Add (-want +got):\n%s", diff)
	}
}

func TestNonNegative(t *testing.T) {
	in := Counts{Input: -1, Output: 2, CacheWrite5m: -3, CacheWrite1h: 4, CacheRead: -5}
	want := Counts{Output: 2, CacheWrite1h: 4}
	if got := in.NonNegative(); got != want {
		t.Errorf("NonNegative(%+v) = %+v, want %+v", in, got, want)
	}
}

// TestKinds guards the doc comment's promise that a new kind cannot be
// forgotten by Add and Total: every field must count once in each.
func TestKinds(t *testing.T) {
	n := reflect.TypeFor[Counts]().NumField()
	for i := range n {
		var c Counts
		reflect.ValueOf(&c).Elem().Field(i).SetInt(1)
		name := reflect.TypeFor[Counts]().Field(i).Name
		if got := c.Total(); got != 1 {
			t.Errorf("Total() with only %s = 1 is %d, want 1", name, got)
		}
		sum := Counts{}
		sum.Add(c)
		if sum != c {
			t.Errorf("Add of only %s = 1 gave %+v", name, sum)
		}
		if got := c.NonNegative(); got != c {
			t.Errorf("NonNegative() with only %s = 1 is %+v", name, got)
		}
	}
}

// TestJSON pins the wire names: they are the admin API's.
func TestJSON(t *testing.T) {
	b, err := json.Marshal(each)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"input_tokens":1,"output_tokens":10,"cache_write_5m_tokens":100,"cache_write_1h_tokens":1000,"cache_read_tokens":10000}`
	if string(b) != want {
		t.Errorf("json.Marshal(%+v) = %s, want %s", each, b, want)
	}
}
