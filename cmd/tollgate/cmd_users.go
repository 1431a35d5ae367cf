package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/adminclient"
)

func newUsersCmd() *cobra.Command {
	var af adminFlags
	g := newGroup("users", "The people (and bots) keys and budgets belong to",
		"Users own keys, budgets and rate limits, belong to teams, and group usage reports.\nThey are named by their name (or id) everywhere.")
	af.register(g.PersistentFlags())
	g.AddCommand(usersCreateCmd(&af), usersListCmd(&af),
		deleteCmd(&af, "NAME|ID", "Delete a user who owns no keys", "  tollgate users delete alice", "Deleted user %q.\n",
			(*adminclient.Client).DeleteUser))
	return g
}

func usersCreateCmd(af *adminFlags) *cobra.Command {
	var email string
	cmd := &cobra.Command{
		Use:     "create NAME [--email ADDRESS]",
		Short:   "Create a user",
		Example: "  tollgate users create alice --email alice@example.com",
		Args:    exactArgs("NAME"),
	}
	asJSON := jsonFlag(cmd)
	cmd.Flags().StringVar(&email, "email", "", "the user's email address")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		req := admin.UserRequest{Name: &args[0]}
		if email != "" {
			req.Email = &email
		}
		u, err := c.CreateUser(cmd.Context(), req)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), admin.UserResponse{User: u})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Created user %q (%s). Give them a key with: tollgate keys create --alias %s-laptop --user %s\n",
			u.Name, u.ID, u.Name, u.Name)
		return nil
	}
	return cmd
}

func usersListCmd(af *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List users with their teams",
		Example: "  tollgate users list\n  tollgate users list --json",
		Args:    noArgs,
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		users, err := c.Users(cmd.Context())
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, admin.UsersResponse{Users: users})
		}
		if len(users) == 0 {
			fmt.Fprintln(out, "No users. Create one with: tollgate users create NAME --email ADDRESS")
			return nil
		}
		t := newTable("NAME", "EMAIL", "TEAMS", "STATUS", "CREATED", "ID")
		for _, u := range users {
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
		return t.write(out)
	}
	return cmd
}
