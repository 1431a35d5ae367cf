package testutil

import (
	"context"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/store"
)

// Principal is a user, a team and a key of both, created in the gateway's
// store by NewPrincipal.
type Principal struct {
	UserID, TeamID, KeyID string
	// Secret is the key's secret, to send as x-api-key.
	Secret string
}

// PrincipalSpec is what NewPrincipal attaches to the key, the user and the
// team. The zero value is a key with no budget, no limit and every model.
type PrincipalSpec struct {
	// Models is the key's model allowlist; nil allows every model.
	Models []string
	// Tags are the key's attribution tags.
	Tags map[string]string
	// KeyUSD, UserUSD and TeamUSD are daily budgets in USD on the key, the
	// user and the team; 0 for none.
	KeyUSD, UserUSD, TeamUSD float64
	// UserTokens is a daily token budget on the user; 0 for none.
	UserTokens int64
	// KeyLimit, when set, adds rate limits on the key; its scope is filled
	// in.
	KeyLimit *store.Limit
	// Mode and Overdraft apply to every budget made (store.Budget's);
	// empty takes the store's defaults (estimate mode, 5 %).
	Mode, Overdraft string
}

// NewPrincipal creates the user name, the team name-team and the key
// name-key with what spec asks for, then reloads the gateway's accounts, so
// that the key works on the very next request.
func (h *Harness) NewPrincipal(t testing.TB, name string, spec PrincipalSpec) Principal {
	t.Helper()
	ctx := context.Background()
	st := h.Gateway.Store
	u, err := st.CreateUser(ctx, store.User{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	tm, err := st.CreateTeam(ctx, store.Team{Name: name + "-team"})
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := st.CreateKey(ctx, store.Key{Alias: name + "-key", UserID: u.ID, TeamID: tm.ID, Models: spec.Models, Tags: spec.Tags})
	if err != nil {
		t.Fatal(err)
	}
	budget := func(kind, id string, usd float64, tokens int64) {
		if usd == 0 && tokens == 0 {
			return
		}
		b := store.Budget{ScopeKind: kind, ScopeID: id, Period: store.PeriodDay, Timezone: "UTC",
			Mode: spec.Mode, Overdraft: spec.Overdraft}
		if usd > 0 {
			m := int64(usd * 1e6)
			b.LimitUSDMicros = &m
		}
		if tokens > 0 {
			b.LimitTokens = &tokens
		}
		if _, err := st.CreateBudget(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	budget(store.ScopeKey, k.ID, spec.KeyUSD, 0)
	budget(store.ScopeUser, u.ID, spec.UserUSD, spec.UserTokens)
	budget(store.ScopeTeam, tm.ID, spec.TeamUSD, 0)
	if spec.KeyLimit != nil {
		l := *spec.KeyLimit
		l.ScopeKind, l.ScopeID = store.ScopeKey, k.ID
		if _, err := st.CreateLimit(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Gateway.Accounts.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	return Principal{UserID: u.ID, TeamID: tm.ID, KeyID: k.ID, Secret: secret}
}
