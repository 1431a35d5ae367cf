package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-gw/tollgate/internal/admin"
)

// teamJSON is a team as the admin API shows it (admin.Team).
type teamJSON struct{ admin.Team }

func (t teamJSON) members() string {
	if len(t.Members) == 0 {
		return "-"
	}
	return strings.Join(t.Members, ",")
}

func runTeams(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "teams", "tollgate teams: groups of users that share keys, budgets and usage reports; a user may be in several.", []subcommand{
		{"create", "NAME", teamsCreate},
		{"list", "[--json]", teamsList},
		{"add-member", "TEAM USER", teamsAddMember},
		{"remove-member", "TEAM USER", teamsRemoveMember},
		{"delete", "NAME|ID", teamsDelete},
	}, args, stdout, stderr)
}

func teamsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("teams create", "NAME", true, stderr)
	pos, err := cmd.parse(args, "NAME")
	if err != nil {
		return flagErr(err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp struct {
		Team teamJSON `json:"team"`
	}
	raw, err := c.post(ctx, "/admin/teams", map[string]any{"name": pos[0]}, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	fmt.Fprintf(stdout, "Created team %q (%s). Add people with: tollgate teams add-member %s USER\n", resp.Team.Name, resp.Team.ID, resp.Team.Name)
	return nil
}

func teamsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("teams list", "[--json]", true, stderr)
	if _, err := cmd.parse(args); err != nil {
		return flagErr(err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp struct {
		Teams []teamJSON `json:"teams"`
	}
	raw, err := c.get(ctx, "/admin/teams", nil, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	if len(resp.Teams) == 0 {
		fmt.Fprintln(stdout, "No teams. Create one with: tollgate teams create NAME")
		return nil
	}
	t := newTable("NAME", "MEMBERS", "CREATED", "ID")
	for _, tm := range resp.Teams {
		t.add(tm.Name, tm.members(), when(tm.CreatedAt, "-"), tm.ID)
	}
	return t.write(stdout)
}

func teamsAddMember(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("teams add-member", "TEAM USER", true, stderr)
	pos, err := cmd.parse(args, "TEAM", "USER")
	if err != nil {
		return flagErr(err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp struct {
		Team teamJSON `json:"team"`
	}
	raw, err := c.post(ctx, "/admin/teams/"+escape(pos[0])+"/members", map[string]any{"user": pos[1]}, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	fmt.Fprintf(stdout, "Added %s to team %q; members: %s.\n", pos[1], resp.Team.Name, resp.Team.members())
	return nil
}

func teamsRemoveMember(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("teams remove-member", "TEAM USER", false, stderr)
	pos, err := cmd.parse(args, "TEAM", "USER")
	if err != nil {
		return flagErr(err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	if err := c.del(ctx, "/admin/teams/"+escape(pos[0])+"/members/"+escape(pos[1])); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Removed %s from team %q.\n", pos[1], pos[0])
	return nil
}

func teamsDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return deleteCommand(ctx, "teams", "/admin/teams/", "NAME|ID", "Deleted team %q.\n", args, stdout, stderr)
}
