package bedrock

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

// AnthropicVersion is the only anthropic_version InvokeModel accepts.
const AnthropicVersion = "bedrock-2023-05-31"

// ErrBodyNotObject is returned when a request body is not a JSON object.
var ErrBodyNotObject = errors.New("request body must be a JSON object")

// Rules remove what a target model rejects. See config.Rules.
type Rules struct {
	DropBetas  []string
	DropFields []string
}

// TransformRequest turns an Anthropic Messages body into an InvokeModel body:
// "model" and "stream" are removed (they are the path and the operation),
// anthropic_version is set, and betas — the header values passed in plus any
// anthropic_beta already in the body — become the body's anthropic_beta
// array, after the target's rules drop what it rejects. Every other byte of
// the body is left as it was: sjson edits in place, so thinking signatures,
// role:"system" messages and unknown fields pass through unchanged.
//
// body must be valid JSON (the front doors check it); TransformRequest only
// checks that it is an object. It returns the new body and the betas it
// dropped, for the log.
func TransformRequest(body []byte, betas []string, rules Rules) ([]byte, []string, error) {
	// The front doors have validated the JSON already; a second full pass
	// over a 100 KB body would cost more than the rest of this function.
	if !gjson.ParseBytes(body).IsObject() {
		return nil, nil, ErrBodyNotObject
	}
	var set anthropic.BetaSet
	if err := set.Add(betas...); err != nil {
		return nil, nil, err
	}
	var bodyBetas []string
	gjson.GetBytes(body, "anthropic_beta").ForEach(func(_, v gjson.Result) bool {
		bodyBetas = append(bodyBetas, v.String())
		return len(bodyBetas) <= anthropic.MaxBetas
	})
	if err := set.Add(bodyBetas...); err != nil {
		return nil, nil, err
	}
	kept, dropped := anthropic.FilterBetas(set.List(), rules.DropBetas)

	var err error
	out := body
	for _, f := range append([]string{"model", "stream", "anthropic_beta"}, rules.DropFields...) {
		if gjson.GetBytes(out, anthropic.FieldPath(f)).Exists() {
			if out, err = sjson.DeleteBytes(out, anthropic.FieldPath(f)); err != nil {
				return nil, nil, fmt.Errorf("bedrock: remove %s: %w", f, err)
			}
		}
	}
	if len(kept) > 0 {
		if out, err = sjson.SetBytes(out, "anthropic_beta", kept); err != nil {
			return nil, nil, fmt.Errorf("bedrock: set anthropic_beta: %w", err)
		}
	}
	if gjson.GetBytes(out, "anthropic_version").String() != AnthropicVersion {
		if out, err = sjson.SetBytes(out, "anthropic_version", AnthropicVersion); err != nil {
			return nil, nil, fmt.Errorf("bedrock: set anthropic_version: %w", err)
		}
	}
	return out, dropped, nil
}

// CountTokensBody wraps an InvokeModel body for CountTokens:
// {"input":{"invokeModel":{"body":"<base64>"}}}.
func CountTokensBody(invokeBody []byte) []byte {
	out, _ := sjson.SetBytes([]byte(`{}`), "input.invokeModel.body", base64.StdEncoding.EncodeToString(invokeBody))
	return out
}
