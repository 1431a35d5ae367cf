package config

import "strings"

// Model-name helpers shared by validation and the router, which must agree
// on what a client's model string is.

// Context1MSuffix is the model-name suffix Claude Code uses to ask for the 1M
// context window ("claude-opus-4-8[1m]"); it is matched in any case.
const Context1MSuffix = "[1m]"

// HasContext1MSuffix reports whether name ends in "[1m]", in any case.
func HasContext1MSuffix(name string) bool {
	n := len(Context1MSuffix)
	return len(name) > n && strings.EqualFold(name[len(name)-n:], Context1MSuffix)
}
