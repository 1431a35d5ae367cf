// Package bedrocksim is an in-process simulator of the Bedrock Runtime API as
// Claude models answer it: InvokeModel, InvokeModelWithResponseStream and
// CountTokens, plus the two control-plane calls Claude Code makes first in
// Bedrock mode (ListInferenceProfiles and GetInferenceProfile).
//
// Bedrock cannot be reached from the machines that build and test the
// gateway, so everything upstream of the gateway is tested against this
// simulator. It therefore reproduces the wire behaviour that matters, checked
// with the official aws-sdk-go-v2 clients: real SigV4 verification (including
// the double escaping of ARN model ids), Bedrock API keys, AWS event-stream
// framing with the "p" padding field, exception frames, AWS-style error
// headers and bodies, request validation with Bedrock's wording, thinking
// signatures that must come back byte-exact, and prompt-cache accounting.
//
// What the simulated model answers is scripted by markers such as
// [[sim:text Hello]] or [[sim:throttle 2]] in the last user message; see
// MarkerHelp and README.md. Token counts come from a documented byte-based
// estimate so that tests can predict every number.
package bedrocksim
