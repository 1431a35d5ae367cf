package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// TestConsoleSessions: a session is found by its hash, touched, deleted;
// creating a session sweeps the expired ones.
func TestConsoleSessions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		old := store.ConsoleSession{IDHash: "old", Principal: `{"Role":"owner"}`, CSRFToken: "c0",
			CreatedAt: now.Add(-48 * time.Hour), LastSeen: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-24 * time.Hour)}
		if err := s.CreateConsoleSession(ctx, old, old.CreatedAt); err != nil {
			t.Fatal(err)
		}
		cs := store.ConsoleSession{IDHash: "h1", Principal: `{"Role":"viewer"}`, CSRFToken: "c1",
			CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(24 * time.Hour)}
		if err := s.CreateConsoleSession(ctx, cs, now); err != nil {
			t.Fatal(err)
		}
		got, err := s.ConsoleSession(ctx, "h1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(cs, got); diff != "" {
			t.Errorf("ConsoleSession(h1) (-want +got):\n%s", diff)
		}
		if _, err := s.ConsoleSession(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired session after a new sign-in: err = %v, want ErrNotFound", err)
		}
		later := now.Add(time.Hour)
		if err := s.TouchConsoleSession(ctx, "h1", later); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ConsoleSession(ctx, "h1"); !got.LastSeen.Equal(later) {
			t.Errorf("LastSeen after touch = %v, want %v", got.LastSeen, later)
		}
		if err := s.DeleteConsoleSession(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ConsoleSession(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after delete: err = %v, want ErrNotFound", err)
		}
	})
}

// TestRecentCalls: newest first, filters, the team scope of a team admin,
// the before cursor, and one call by request id.
func TestRecentCalls(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var recs []usage.Record
		for i := range 6 {
			team := "team_a"
			if i%2 == 1 {
				team = "team_b"
			}
			status, msg := 200, ""
			if i == 4 {
				status, msg = 429, "over budget: "+strings.Repeat("é", usage.MaxErrorMessage)
			}
			recs = append(recs, usage.Record{RequestID: "req_" + string(rune('0'+i)), Time: base.Add(time.Duration(i) * time.Minute),
				KeyID: "key_1", KeyAlias: "k", UserID: "user_1", TeamID: team, Model: "claude-x", Status: status,
				Tags: map[string]string{"repo": "a/b"}, Tokens: tokens.Counts{Input: int64(i + 1)}, CostMicros: 10,
				ErrorMessage: msg, UpstreamRequestID: fmt.Sprintf("up-%d", i)})
		}
		if err := s.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		ids := func(cs []store.Call) []string {
			var out []string
			for _, c := range cs {
				out = append(out, c.RequestID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    store.CallFilter
			want []string
		}{
			{"all", store.CallFilter{}, []string{"req_5", "req_4", "req_3"}},
			{"team b", store.CallFilter{TeamID: "team_b"}, []string{"req_5", "req_3", "req_1"}},
			{"team admin of a", store.CallFilter{Teams: []string{"team_a"}}, []string{"req_4", "req_2", "req_0"}},
			{"team admin of none", store.CallFilter{Teams: []string{}}, nil},
			{"errors", store.CallFilter{ErrorsOnly: true}, []string{"req_4"}},
			{"before", store.CallFilter{Before: base.Add(2 * time.Minute)}, []string{"req_1", "req_0"}},
		} {
			got, err := s.RecentCalls(ctx, tc.f, 3)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, ids(got)); diff != "" {
				t.Errorf("RecentCalls(%s) (-want +got):\n%s", tc.name, diff)
			}
		}
		c, err := s.CallByRequestID(ctx, "req_4")
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != 429 || c.Tags["repo"] != "a/b" || c.Tokens.Input != 5 || !c.Time.Equal(base.Add(4*time.Minute)) ||
			c.UpstreamRequestID != "up-4" {
			t.Errorf("CallByRequestID(req_4) = %+v", c)
		}
		// The error text is kept, cut to a bounded length on a character
		// boundary.
		if !strings.HasPrefix(c.ErrorMessage, "over budget: é") || len(c.ErrorMessage) > usage.MaxErrorMessage || !utf8.ValidString(c.ErrorMessage) {
			t.Errorf("ErrorMessage = %q (%d bytes), want the message cut to at most %d bytes of valid UTF-8",
				c.ErrorMessage, len(c.ErrorMessage), usage.MaxErrorMessage)
		}
		if _, err := s.CallByRequestID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CallByRequestID(nope): err = %v, want ErrNotFound", err)
		}
	})
}
