// Package conformance proves that Tollgate speaks the protocol its real
// clients speak, by running them: the Claude Code CLI (`claude -p`, in
// Anthropic and in Bedrock mode) and the official Node SDKs
// (@anthropic-ai/sdk, @anthropic-ai/bedrock-sdk, and the AWS SDK for
// JavaScript's @aws-sdk/client-bedrock-runtime with its default HTTP/2
// handler, and the openai package on the OpenAI door), each against a gateway in
// front of the Bedrock simulator, on loopback.
//
// Reading the API documentation tells what a client may send; only the client
// tells what it does send, how it retries, and what it makes of an answer. A
// new Claude Code release that changes a beta flag, a stream shape or a retry
// rule shows up here first. Every scenario asserts what the client printed
// and its exit code, and what the gateway recorded: the requests that reached
// it and the usage rows (tokens, cost, session id, tags, routed model).
//
// The package holds only tests. They need the CLI and the SDKs installed,
// which scripts/claude-code.sh does; it prints the two variables that switch
// the suite on:
//
//	eval "$(./scripts/claude-code.sh)"   # TOLLGATE_TEST_CLAUDE, TOLLGATE_TEST_NODE_DIR
//	go test ./internal/conformance/
//
// Without them the tests skip, so that `go test ./...` stays fast, except
// when CI=true: then they fail, so that a CI machine that lost its Node
// setup can never pass silently. TOLLGATE_CLAUDE_CODE_VERSION=latest makes
// the script install the newest published Claude Code instead of the pinned
// one.
package conformance
