package admin

import (
	"context"
	"errors"

	"github.com/tollgate-gw/tollgate/internal/authz"
)

// ErrPrincipalGone is CurrentPrincipal's answer for an account that was
// deleted or disabled since the principal was issued.
var ErrPrincipalGone = errors.New("admin: the account was deleted or disabled")

// CurrentPrincipal returns p as the store has it now. The console keeps a
// signed-in principal for the length of a session; without this, an
// account disabled, deleted or demoted meanwhile would keep its old role
// in every call the console makes through ServeAs. An account's present
// role and teams replace p's; a deleted or disabled one is
// ErrPrincipalGone. Other kinds (the admin key) are returned unchanged.
func (a *API) CurrentPrincipal(ctx context.Context, p authz.Principal) (authz.Principal, error) {
	if p.Kind != authz.KindAccount {
		return p, nil
	}
	acct, err := a.st.GetAdminAccount(ctx, p.ID)
	if err != nil && isNotFound(err) || err == nil && (acct.ID != p.ID || acct.Disabled) {
		return authz.Principal{}, ErrPrincipalGone
	}
	if err != nil {
		return authz.Principal{}, err
	}
	p.Name, p.Role, p.Teams = acct.Name, authz.Role(acct.Role), acct.TeamIDs
	return p, nil
}
