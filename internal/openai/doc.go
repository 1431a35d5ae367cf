// Package openai translates OpenAI Chat Completions (POST
// /v1/chat/completions) to and from Anthropic Messages, so that OpenAI
// clients reach Claude through the same routing, keys, budgets and metering
// as Anthropic clients. The gateway meters the Anthropic answer it relays;
// this package only changes its shape, never its token counts.
//
// The translation is deliberately strict. Every top-level request field is
// either translated, ignored on purpose (listed in ignoredFields, and in
// docs/openai.md), or refused with an error that names it: a parameter
// silently dropped would make the answer quietly differ from what the client
// asked for, which is worse than a 400.
package openai
