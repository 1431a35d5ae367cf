package store_test

import (
	"context"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

// TestHasKeys: HasKeys agrees with AuthSnapshot about whether any key
// exists, revoked keys included, and forgets a deleted one.
func TestHasKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		want := func(step string, w bool) {
			t.Helper()
			if got, err := s.HasKeys(ctx); err != nil || got != w {
				t.Errorf("%s: HasKeys() = %v, %v; want %v", step, got, err, w)
			}
		}
		want("empty store", false)
		k, _, err := s.CreateKey(ctx, store.Key{Alias: "a"})
		if err != nil {
			t.Fatal(err)
		}
		want("one key", true)
		if _, err := s.RevokeKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		want("revoked key", true)
		if err := s.DeleteKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		want("deleted key", false)
	})
}
