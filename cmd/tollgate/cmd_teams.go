package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/adminclient"
)

// members lists a team's members by name, "-" for none.
func members(t admin.Team) string {
	if len(t.Members) == 0 {
		return "-"
	}
	return strings.Join(t.Members, ",")
}

func newTeamsCmd() *cobra.Command {
	var af adminFlags
	g := newGroup("teams", "Groups of users that share keys, budgets and usage reports",
		"Teams group users for shared keys, budgets, rate limits and usage reports; a user\nmay be in several. They are named by their name (or id) everywhere.")
	af.register(g.PersistentFlags())
	g.AddCommand(teamsCreateCmd(&af), teamsListCmd(&af), teamsAddMemberCmd(&af), teamsRemoveMemberCmd(&af),
		deleteCmd(&af, "NAME|ID", "Delete a team", "  tollgate teams delete platform", "Deleted team %q.\n",
			(*adminclient.Client).DeleteTeam))
	return g
}

func teamsCreateCmd(af *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a team",
		Example: "  tollgate teams create platform",
		Args:    exactArgs("NAME"),
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		t, err := c.CreateTeam(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), admin.TeamResponse{Team: t})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Created team %q (%s). Add people with: tollgate teams add-member %s USER\n", t.Name, t.ID, t.Name)
		return nil
	}
	return cmd
}

func teamsListCmd(af *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List teams with their members",
		Example: "  tollgate teams list",
		Args:    noArgs,
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		teams, err := c.Teams(cmd.Context())
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, admin.TeamsResponse{Teams: teams})
		}
		if len(teams) == 0 {
			fmt.Fprintln(out, "No teams. Create one with: tollgate teams create NAME")
			return nil
		}
		t := newTable("NAME", "MEMBERS", "CREATED", "ID")
		for _, tm := range teams {
			t.add(tm.Name, members(tm), when(tm.CreatedAt, "-"), tm.ID)
		}
		return t.write(out)
	}
	return cmd
}

func teamsAddMemberCmd(af *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "add-member TEAM USER",
		Short:   "Add a user to a team",
		Example: "  tollgate teams add-member platform alice",
		Args:    exactArgs("TEAM", "USER"),
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		t, err := c.AddMember(cmd.Context(), args[0], args[1])
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), admin.TeamResponse{Team: t})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Added %s to team %q; members: %s.\n", args[1], t.Name, members(t))
		return nil
	}
	return cmd
}

func teamsRemoveMemberCmd(af *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "remove-member TEAM USER",
		Short:   "Remove a user from a team",
		Example: "  tollgate teams remove-member platform bob",
		Args:    exactArgs("TEAM", "USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			if err := c.RemoveMember(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed %s from team %q.\n", args[1], args[0])
			return nil
		},
	}
}
