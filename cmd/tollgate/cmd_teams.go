package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// teamJSON is a team as the admin API shows it.
type teamJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Members   []string   `json:"members"`
	CreatedAt *time.Time `json:"created_at"`
}

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
	fs := newFlagSet("teams create", "teams create NAME", stderr)
	var af adminFlags
	af.register(fs, true)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if err := wantArgs("teams create", pos, "NAME"); err != nil {
		return err
	}
	c, err := af.client()
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
	if af.json {
		return printJSON(stdout, raw)
	}
	fmt.Fprintf(stdout, "Created team %q (%s). Add people with: tollgate teams add-member %s USER\n", resp.Team.Name, resp.Team.ID, resp.Team.Name)
	return nil
}

func teamsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("teams list", "teams list [--json]", stderr)
	var af adminFlags
	af.register(fs, true)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if err := wantArgs("teams list", pos); err != nil {
		return err
	}
	c, err := af.client()
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
	if af.json {
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
	fs := newFlagSet("teams add-member", "teams add-member TEAM USER", stderr)
	var af adminFlags
	af.register(fs, true)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if err := wantArgs("teams add-member", pos, "TEAM", "USER"); err != nil {
		return err
	}
	c, err := af.client()
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
	if af.json {
		return printJSON(stdout, raw)
	}
	fmt.Fprintf(stdout, "Added %s to team %q; members: %s.\n", pos[1], resp.Team.Name, resp.Team.members())
	return nil
}

func teamsRemoveMember(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("teams remove-member", "teams remove-member TEAM USER", stderr)
	var af adminFlags
	af.register(fs, false)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if err := wantArgs("teams remove-member", pos, "TEAM", "USER"); err != nil {
		return err
	}
	c, err := af.client()
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
	return deleteByName(ctx, "teams", "/admin/teams/", "team", "NAME|ID", args, stdout, stderr)
}
