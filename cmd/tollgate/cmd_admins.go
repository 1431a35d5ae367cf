package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tollgate-gw/tollgate/internal/admin"
)

const rolesHelp = `Roles:
  owner       everything, including admin accounts and tokens
  admin       everything but admin accounts and tokens
  team_admin  keys, budgets, limits and usage of its teams (--team, repeatable)
  viewer      reads only`

func newAdminsCmd() *cobra.Command {
	var af adminFlags
	g := newGroup("admins", "Named admin accounts with roles (owner only)",
		"Admin accounts sign in to the admin API, the CLI (TOLLGATE_ADMIN_USER and\nTOLLGATE_ADMIN_PASSWORD) and the console with a name and a password.\n\n"+rolesHelp)
	af.register(g.PersistentFlags())
	g.AddCommand(adminsAddCmd(&af), adminsListCmd(&af), adminsUpdateCmd(&af), adminsPasswdCmd(&af),
		&cobra.Command{
			Use:     "remove NAME",
			Short:   "Delete an admin account; its audit log entries stay",
			Example: "  tollgate admins remove alice",
			Args:    exactArgs("NAME"),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := af.client()
				if err != nil {
					return err
				}
				if err := c.DeleteAccount(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Removed admin account %q.\n", args[0])
				return nil
			},
		})
	return g
}

// newPassword returns a password read from in (its first line) when
// fromStdin, else a random one (128 bits) the caller prints once.
func newPassword(in io.Reader, fromStdin bool) (pw string, generated bool, err error) {
	if !fromStdin {
		var b [16]byte
		rand.Read(b[:])
		return base64.RawURLEncoding.EncodeToString(b[:]), true, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read the password from stdin: %w", err)
	}
	pw = strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", false, errors.New("--password-stdin: stdin holds no password")
	}
	return pw, false, nil
}

func adminsAddCmd(af *adminFlags) *cobra.Command {
	var role string
	var teams []string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "add NAME --role ROLE [--team TEAM]... [--password-stdin]",
		Short: "Create an admin account",
		Long:  "Create an admin account. Without --password-stdin a random password is generated and printed once.\n\n" + rolesHelp,
		Example: "  tollgate admins add alice --role admin\n  tollgate admins add bob --role team_admin --team ml --team infra\n" +
			"  printf '%s\\n' \"$PW\" | tollgate admins add carol --role viewer --password-stdin",
		Args: exactArgs("NAME"),
	}
	asJSON := jsonFlag(cmd)
	cmd.Flags().StringVar(&role, "role", "", "owner, admin, team_admin or viewer (required)")
	cmd.Flags().StringArrayVar(&teams, "team", nil, "a team a team_admin administers (repeatable)")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if role == "" {
			return usageErrorf("--role is required: owner, admin, team_admin or viewer")
		}
		pw, generated, err := newPassword(cmd.InOrStdin(), fromStdin)
		if err != nil {
			return err
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		req := admin.AccountRequest{Name: &args[0], Password: &pw, Role: &role}
		if len(teams) > 0 {
			req.Teams = admin.Some(teams)
		}
		a, err := c.CreateAccount(cmd.Context(), req)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, admin.AccountResponse{Account: a})
		}
		fmt.Fprintf(out, "Created admin account %q (%s), role %s.\n", a.Name, a.ID, a.Role)
		if generated {
			fmt.Fprintf(out, "Password (shown once): %s\n", pw)
		}
		return nil
	}
	return cmd
}

func adminsListCmd(af *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List admin accounts",
		Example: "  tollgate admins list",
		Args:    noArgs,
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		list, err := c.Accounts(cmd.Context())
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, admin.AccountsResponse{Accounts: list})
		}
		if len(list) == 0 {
			fmt.Fprintln(out, "No admin accounts. Create one with: tollgate admins add NAME --role admin")
			return nil
		}
		t := newTable("NAME", "ROLE", "TEAMS", "STATUS", "LAST SIGN-IN", "ID")
		for _, a := range list {
			teams, status := "-", "active"
			if len(a.Teams) > 0 {
				teams = strings.Join(a.Teams, ",")
			}
			if a.Disabled {
				status = "disabled"
			}
			t.add(a.Name, a.Role, teams, status, when(a.LastLoginAt, "never"), a.ID)
		}
		return t.write(out)
	}
	return cmd
}

func adminsUpdateCmd(af *adminFlags) *cobra.Command {
	var role, rename string
	var teams []string
	var disable, enable bool
	cmd := &cobra.Command{
		Use:     "update NAME [--role ROLE] [--team TEAM]... [--rename NEW] [--disable|--enable]",
		Short:   "Change an admin account's role, teams or name, or disable it",
		Example: "  tollgate admins update bob --role team_admin --team ml\n  tollgate admins update alice --disable",
		Args:    exactArgs("NAME"),
	}
	asJSON := jsonFlag(cmd)
	cmd.Flags().StringVar(&role, "role", "", "new role")
	cmd.Flags().StringArrayVar(&teams, "team", nil, "the teams a team_admin administers, replacing the old ones (repeatable)")
	cmd.Flags().StringVar(&rename, "rename", "", "new name")
	cmd.Flags().BoolVar(&disable, "disable", false, "refuse the account's sign-ins")
	cmd.Flags().BoolVar(&enable, "enable", false, "allow the account's sign-ins again")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if disable && enable {
			return usageErrorf("give --disable or --enable, not both")
		}
		var req admin.AccountRequest
		if role != "" {
			req.Role = &role
		}
		if cmd.Flags().Changed("team") {
			req.Teams = admin.Some(teams)
		}
		if rename != "" {
			req.Name = &rename
		}
		if disable || enable {
			req.Disabled = &disable
		}
		if req.Role == nil && !req.Teams.Set && req.Name == nil && req.Disabled == nil {
			return usageErrorf("nothing to change: give --role, --team, --rename, --disable or --enable")
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		a, err := c.UpdateAccount(cmd.Context(), args[0], req)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), admin.AccountResponse{Account: a})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Updated admin account %q: role %s, disabled %v.\n", a.Name, a.Role, a.Disabled)
		return nil
	}
	return cmd
}

func adminsPasswdCmd(af *adminFlags) *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:     "passwd NAME [--password-stdin]",
		Short:   "Set an admin account's password",
		Long:    "Set an admin account's password. Without --password-stdin a random one is generated and printed once.",
		Example: "  tollgate admins passwd alice\n  printf '%s\\n' \"$PW\" | tollgate admins passwd alice --password-stdin",
		Args:    exactArgs("NAME"),
	}
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		pw, generated, err := newPassword(cmd.InOrStdin(), fromStdin)
		if err != nil {
			return err
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		if _, err := c.UpdateAccount(cmd.Context(), args[0], admin.AccountRequest{Password: &pw}); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Set the password of admin account %q.\n", args[0])
		if generated {
			fmt.Fprintf(cmd.OutOrStdout(), "Password (shown once): %s\n", pw)
		}
		return nil
	}
	return cmd
}

func newTokensCmd() *cobra.Command {
	var af adminFlags
	g := newGroup("tokens", "Scoped admin API tokens for automation (owner only)",
		"A token (tgt-…) authenticates to the admin API as Authorization: Bearer, or\nas TOLLGATE_ADMIN_KEY for this CLI, with the role it was created with.\n\n"+rolesHelp)
	af.register(g.PersistentFlags())
	g.AddCommand(tokensCreateCmd(&af), tokensListCmd(&af), &cobra.Command{
		Use:     "revoke NAME",
		Short:   "Revoke a token at once",
		Example: "  tollgate tokens revoke terraform",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			if _, err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Revoked admin token %q.\n", args[0])
			return nil
		},
	})
	return g
}

func tokensCreateCmd(af *adminFlags) *cobra.Command {
	var role, expiresIn string
	var teams []string
	cmd := &cobra.Command{
		Use:     "create NAME --role ROLE [--team TEAM]... [--expires-in 90d]",
		Short:   "Create a token; its secret is printed once",
		Example: "  tollgate tokens create terraform --role admin --expires-in 90d\n  tollgate tokens create ml-bot --role team_admin --team ml",
		Args:    exactArgs("NAME"),
	}
	asJSON := jsonFlag(cmd)
	cmd.Flags().StringVar(&role, "role", "", "owner, admin, team_admin or viewer (required)")
	cmd.Flags().StringArrayVar(&teams, "team", nil, "a team a team_admin token administers (repeatable)")
	cmd.Flags().StringVar(&expiresIn, "expires-in", "", "lifetime, e.g. 90d or 12h (default: no expiry)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if role == "" {
			return usageErrorf("--role is required: owner, admin, team_admin or viewer")
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		r, err := c.CreateToken(cmd.Context(), admin.TokenRequest{Name: args[0], Role: role, Teams: teams, ExpiresIn: expiresIn})
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, r)
		}
		fmt.Fprintf(out, "Created admin token %q (%s), role %s, expires %s.\nSecret (shown once): %s\n",
			r.Token.Name, r.Token.ID, r.Token.Role, when(r.Token.ExpiresAt, "never"), r.Secret)
		return nil
	}
	return cmd
}

func tokensListCmd(af *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List tokens, revoked ones included",
		Example: "  tollgate tokens list",
		Args:    noArgs,
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		list, err := c.Tokens(cmd.Context())
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, admin.TokensResponse{Tokens: list})
		}
		if len(list) == 0 {
			fmt.Fprintln(out, "No admin tokens. Create one with: tollgate tokens create NAME --role admin")
			return nil
		}
		t := newTable("NAME", "ROLE", "TEAMS", "STATUS", "PREFIX", "EXPIRES", "LAST USED", "CREATED BY")
		for _, x := range list {
			teams, status := "-", "active"
			if len(x.Teams) > 0 {
				teams = strings.Join(x.Teams, ",")
			}
			if x.RevokedAt != nil {
				status = "revoked"
			} else if !x.Active {
				status = "expired"
			}
			t.add(x.Name, x.Role, teams, status, x.Prefix, when(x.ExpiresAt, "never"), when(x.LastUsedAt, "never"), x.CreatedBy)
		}
		return t.write(out)
	}
	return cmd
}

func newAuditCmd() *cobra.Command {
	var af adminFlags
	var since, until, actor, target, action string
	var limit int
	cmd := &cobra.Command{
		Use:   "audit [--since 7d] [--actor NAME] [--target NAME] [--action keys.] [--json]",
		Short: "Show the audit log: who changed what, from where, when",
		Long: `Show the audit log, newest first: every change made through the admin API,
the CLI or the console, and every change refused for lack of permission. The log
is append-only and kept past the usage retention; it never holds secrets.`,
		Example: "  tollgate audit --since 24h\n  tollgate audit --actor alice --action keys.\n  tollgate audit --target ci --json",
		Args:    noArgs,
	}
	af.register(cmd.Flags())
	asJSON := jsonFlag(cmd)
	cmd.Flags().StringVar(&since, "since", "7d", "from this time: a duration ago (24h, 7d), a date or RFC 3339")
	cmd.Flags().StringVar(&until, "until", "", "up to this time (default now)")
	cmd.Flags().StringVar(&actor, "actor", "", "only changes by this account or token (name or id)")
	cmd.Flags().StringVar(&target, "target", "", "only changes to this object (name or id)")
	cmd.Flags().StringVar(&action, "action", "", "only this action (keys.create) or actions with this prefix (keys.)")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many entries (1-1000)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		q := url.Values{}
		for k, v := range map[string]string{"since": since, "until": until, "actor": actor, "target": target, "action": action} {
			if v != "" {
				q.Set(k, v)
			}
		}
		q.Set("limit", strconv.Itoa(limit))
		r, err := c.Audit(cmd.Context(), q)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, r)
		}
		if len(r.Events) == 0 {
			fmt.Fprintln(out, "No audit log entries match.")
			return nil
		}
		t := newTable("TIME", "ACTOR", "ROLE", "VIA", "FROM", "ACTION", "TARGET", "OUTCOME")
		for _, e := range r.Events {
			tgt := e.Target.Type + " " + cmpOr(e.Target.Name, e.Target.ID)
			t.add(when(e.At, "-"), e.Actor.Name, e.Actor.Role, e.Via, cmpOr(e.RemoteAddr, "-"), e.Action, strings.TrimSpace(tgt), e.Outcome)
		}
		if err := t.write(out); err != nil {
			return err
		}
		if r.NextCursor != "" {
			fmt.Fprintf(out, "(more entries: narrow --since or raise --limit)\n")
		}
		return nil
	}
	return cmd
}
