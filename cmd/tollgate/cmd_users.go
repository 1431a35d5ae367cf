package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-gw/tollgate/internal/admin"
)

// userJSON is a user as the admin API shows it.
type userJSON = admin.User

func runUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "users", "tollgate users: the people (and bots) keys and budgets belong to.", []subcommand{
		{"create", "NAME [--email ADDRESS]", usersCreate},
		{"list", "[--json]", usersList},
		{"delete", "NAME|ID", usersDelete},
	}, args, stdout, stderr)
}

func usersCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("users create", "NAME [--email ADDRESS]", true, stderr)
	email := cmd.flags.String("email", "", "the user's email address")
	pos, err := cmd.parse(args, "NAME")
	if err != nil {
		return flagErr(err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	req := map[string]any{"name": pos[0]}
	if *email != "" {
		req["email"] = *email
	}
	var resp struct {
		User userJSON `json:"user"`
	}
	raw, err := c.post(ctx, "/admin/users", req, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	fmt.Fprintf(stdout, "Created user %q (%s). Give them a key with: tollgate keys create --alias %s-laptop --user %s\n",
		resp.User.Name, resp.User.ID, resp.User.Name, resp.User.Name)
	return nil
}

func usersList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("users list", "[--json]", true, stderr)
	if _, err := cmd.parse(args); err != nil {
		return flagErr(err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp struct {
		Users []userJSON `json:"users"`
	}
	raw, err := c.get(ctx, "/admin/users", nil, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	if len(resp.Users) == 0 {
		fmt.Fprintln(stdout, "No users. Create one with: tollgate users create NAME --email ADDRESS")
		return nil
	}
	t := newTable("NAME", "EMAIL", "TEAMS", "STATUS", "CREATED", "ID")
	for _, u := range resp.Users {
		teams, status, email := "-", "active", u.Email
		if len(u.Teams) > 0 {
			teams = strings.Join(u.Teams, ",")
		}
		if u.Disabled {
			status = "disabled"
		}
		if email == "" {
			email = "-"
		}
		t.add(u.Name, email, teams, status, when(u.CreatedAt, "-"), u.ID)
	}
	return t.write(stdout)
}

func usersDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return deleteCommand(ctx, "users", "/admin/users/", "NAME|ID", "Deleted user %q.\n", args, stdout, stderr)
}
