package admin

import (
	"context"
	"fmt"

	"github.com/tollgate-gw/tollgate/internal/store"
)

// AdminSecretPrefix starts generated admin keys.
const AdminSecretPrefix = "tga-"

// minEnvKeyLen is the shortest TOLLGATE_ADMIN_KEY accepted: it guards the
// whole gateway, so a short one is refused rather than stored.
const minEnvKeyLen = 20

// Bootstrap makes sure the gateway has an admin credential, at every start.
//
// When envKey (TOLLGATE_ADMIN_KEY) is set, its hash is stored, replacing any
// other: the environment is the source of truth and rotating it rotates the
// key. Otherwise, if no credential exists yet, a new "tga-…" key is
// generated, its hash stored, and the key returned so the caller prints it
// once; it cannot be shown again. When several replicas start together on
// one database, only the one whose hash was stored gets a key to print.
func Bootstrap(ctx context.Context, st *store.Store, envKey string) (printedSecret string, err error) {
	if envKey != "" {
		if len(envKey) < minEnvKeyLen {
			return "", fmt.Errorf("admin: TOLLGATE_ADMIN_KEY is shorter than %d characters", minEnvKeyLen)
		}
		hash := store.HashSecret(envKey)
		current, err := st.AdminKeyHash(ctx)
		if err != nil {
			return "", err
		}
		if current != hash {
			if err := st.SetAdminKeyHash(ctx, hash); err != nil {
				return "", err
			}
		}
		return "", nil
	}
	current, err := st.AdminKeyHash(ctx)
	if err != nil || current != "" {
		return "", err
	}
	secret := store.NewSecret(AdminSecretPrefix)
	stored, err := st.InitAdminKeyHash(ctx, store.HashSecret(secret))
	if err != nil || !stored {
		return "", err
	}
	return secret, nil
}
