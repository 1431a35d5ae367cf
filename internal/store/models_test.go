package store_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

// Runtime models round-trip through both engines, cleaned; names are
// unique ignoring case; what breaks the rules is refused with the field
// named.
func TestModels(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		in := store.Model{
			Name:       "team-sonnet",
			Strategy:   "weighted",
			DropBetas:  []string{" context-management-2025-06-27", "context-management-2025-06-27"},
			DropFields: []string{"context_management"},
			Targets: []store.ModelTarget{
				{Provider: " bedrock ", Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Weight: ptr(3), MaxConcurrent: 4, QueueTimeout: 1500 * time.Millisecond},
				{Provider: "anthropic", Model: "claude-sonnet-4-5-20250929", Weight: ptr(0), DropFields: []string{"output_config"}},
			},
			Price:     &store.ModelPrice{Input: 3, Output: 15, CacheWrite5m: 3.75, CacheWrite1h: 6, CacheRead: 0.3},
			UpdatedBy: "admin key",
			CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6e6+7, time.UTC),
		}
		got, err := s.CreateModel(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		want := in
		want.DropBetas = []string{"context-management-2025-06-27"}
		want.Targets = []store.ModelTarget{in.Targets[0], in.Targets[1]}
		want.Targets[0].Provider = "bedrock"
		want.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
		want.UpdatedAt = want.CreatedAt
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CreateModel mismatch (-want +got):\n%s", diff)
		}
		for _, name := range []string{"team-sonnet", "TEAM-Sonnet"} {
			g, err := s.GetModel(ctx, name)
			if err != nil {
				t.Fatalf("GetModel(%q): %v", name, err)
			}
			if diff := cmp.Diff(want, g); diff != "" {
				t.Errorf("GetModel(%q) mismatch (-want +got):\n%s", name, diff)
			}
		}
		_, err = s.CreateModel(ctx, store.Model{Name: "Team-Sonnet", Targets: []store.ModelTarget{{Provider: "bedrock", Model: "x"}}})
		wantErr(t, "duplicate name ignoring case", err, store.ErrConflict)

		for name, m := range map[string]store.Model{
			"empty name":        {Targets: in.Targets},
			"space in name":     {Name: "a b", Targets: in.Targets},
			"[1m] suffix":       {Name: "x[1M]", Targets: in.Targets},
			"no targets":        {Name: "x"},
			"no provider":       {Name: "x", Targets: []store.ModelTarget{{Model: "m"}}},
			"no upstream id":    {Name: "x", Targets: []store.ModelTarget{{Provider: "bedrock"}}},
			"negative weight":   {Name: "x", Targets: []store.ModelTarget{{Provider: "bedrock", Model: "m", Weight: ptr(-1)}}},
			"negative cap":      {Name: "x", Targets: []store.ModelTarget{{Provider: "bedrock", Model: "m", MaxConcurrent: -1}}},
			"unknown strategy":  {Name: "x", Strategy: "random", Targets: in.Targets},
			"beta with a comma": {Name: "x", DropBetas: []string{"a,b"}, Targets: in.Targets},
			"negative price":    {Name: "x", Targets: in.Targets, Price: &store.ModelPrice{Output: -1}},
		} {
			_, err := s.CreateModel(ctx, m)
			wantErr(t, "CreateModel("+name+")", err, store.ErrInvalid)
		}

		other, err := s.CreateModel(ctx, store.Model{Name: "other", Targets: []store.ModelTarget{{Provider: "bedrock", Model: "m"}}})
		if err != nil {
			t.Fatal(err)
		}
		upd, err := s.UpdateModel(ctx, "TEAM-SONNET", func(m *store.Model) error {
			m.Name, m.Price, m.UpdatedBy = "team-sonnet-2", nil, "alice"
			m.Targets = m.Targets[:1]
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if upd.Name != "team-sonnet-2" || upd.Price != nil || len(upd.Targets) != 1 || upd.UpdatedBy != "alice" || !upd.CreatedAt.Equal(want.CreatedAt) || !upd.UpdatedAt.After(want.CreatedAt) {
			t.Errorf("UpdateModel = %+v, want renamed, unpriced, one target, by alice, created kept, updated later", upd)
		}
		_, err = s.UpdateModel(ctx, "team-sonnet-2", func(m *store.Model) error { m.Name = "OTHER"; return nil })
		wantErr(t, "rename onto other", err, store.ErrConflict)
		_, err = s.UpdateModel(ctx, "team-sonnet-2", func(m *store.Model) error { m.Targets = nil; return nil })
		wantErr(t, "update to no targets", err, store.ErrInvalid)
		_, err = s.UpdateModel(ctx, "nope", func(*store.Model) error { return nil })
		wantErr(t, "update unknown", err, store.ErrNotFound)

		list, err := s.ListModels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]store.Model{other, upd}, list); diff != "" {
			t.Errorf("ListModels mismatch (-want +got):\n%s", diff)
		}
		if err := s.DeleteModel(ctx, "Other"); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "DeleteModel twice", s.DeleteModel(ctx, "other"), store.ErrNotFound)
		_, err = s.GetModel(ctx, "other")
		wantErr(t, "GetModel after delete", err, store.ErrNotFound)
	})
}
