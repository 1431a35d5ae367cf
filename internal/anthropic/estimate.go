package anthropic

import "github.com/tidwall/gjson"

// Allowances for prompt content that is billed by something other than its
// bytes in the body, used by PromptTokenBound. Each is an upper bound with
// a margin, from Anthropic's documentation (vision, PDF support and tool use
// pages, 2025–2026):
const (
	// ImageTokens bounds one image block. Images are scaled down until the
	// long edge is at most 1568 px and the area about 1.15 megapixels, which
	// costs about 1,600 tokens (width × height / 750). Base64 bytes do not
	// bound it: a flat-colour PNG of that size compresses to a few hundred
	// bytes. 5,000 leaves room for higher-resolution image handling.
	ImageTokens = 5_000
	// DocumentTokens bounds one document block whose content is not in the
	// body as text (a PDF as base64, URL or file_id). A request may carry
	// at most 100 PDF pages, each billed as its text (typically 1,500 to
	// 3,000 tokens) plus an image of the page (about 1,600):
	// 100 × (3,000 + 1,600).
	DocumentTokens = 460_000
	// ToolUseTokens bounds what a request with tools adds on the provider's
	// side: the tool-use system prompt (at most 530 tokens, Claude 3 Opus)
	// plus the definitions of Anthropic-defined tools (computer use 735 and
	// its 499-token system prompt, text editor 700, bash 245) — 2,709 in
	// all, rounded up.
	ToolUseTokens = 4_096
	// MaxPromptTokens is the largest prompt any Claude model accepts: the
	// 1M-token context window. The upstream refuses a longer prompt, so no
	// call is billed for more input than this.
	MaxPromptTokens = 1_000_000
)

// PromptTokenBound returns an upper bound of the input tokens a Messages
// body can be billed for, for budget reservations.
//
// Text is bounded by its bytes: Claude's tokenizer is a byte-level BPE, so a
// token covers at least one byte of text, and JSON escaping only adds bytes
// to what the text decodes to. The body's bytes therefore bound every
// token that comes from the body. Content billed by something other than
// its bytes gets the allowances above, and the sum is capped at
// MaxPromptTokens. The body must have passed CheckDepth: the walk recurses
// once per level.
//
// What the body cannot show is not bounded: tool definitions fetched from
// MCP servers (mcp_servers) and results of server tools (web search, web
// fetch, code execution) are billed as input the gateway never sees. Calls
// that overrun their reservation are charged what they used and counted as
// overruns (tollgate_reservation_overruns_total).
func PromptTokenBound(body []byte) int64 {
	n := int64(len(body))
	if n >= MaxPromptTokens {
		return MaxPromptTokens
	}
	root := gjson.ParseBytes(body)
	if root.Get("tools.#").Int() > 0 {
		n += ToolUseTokens
	}
	var walk func(v gjson.Result) bool
	walk = func(v gjson.Result) bool {
		if v.IsObject() {
			switch v.Get("type").Str {
			case "image":
				n += ImageTokens
			case "document":
				switch v.Get("source.type").Str {
				case "text", "content":
					// Bounded by its bytes, or by the blocks inside.
				default:
					n += DocumentTokens
				}
			}
		}
		if n >= MaxPromptTokens {
			return false
		}
		if v.IsObject() || v.IsArray() {
			more := true
			v.ForEach(func(_, c gjson.Result) bool {
				more = walk(c)
				return more
			})
			return more
		}
		return true
	}
	// Only messages and system carry content blocks; tool definitions and
	// other fields are text, bounded by their bytes.
	walk(root.Get("messages"))
	walk(root.Get("system"))
	return min(n, MaxPromptTokens)
}

// Realistic sizes for PromptTokenEstimate: what content typically costs,
// not what it can cost at most.
const (
	// textBytesPerToken is a realistic density of Claude's tokenizer on the
	// text, code and JSON of a prompt (about 3.5–4 bytes a token on
	// English and code); 3 errs on the high side.
	textBytesPerToken = 3
	// imageTokensTypical is a typical image: about 1,600 tokens at the
	// largest size before downscaling.
	imageTokensTypical = 1_600
	// pdfBytesPerToken: a PDF page of 30–100 KB of base64 costs about
	// 3,000 tokens (its text plus an image of the page).
	pdfBytesPerToken = 20
)

// PromptTokenEstimate returns a realistic count of the input tokens a
// Messages body will be billed for, for budget estimates: text at about
// three bytes a token, images at a typical size, PDFs by their size. It is
// never above PromptTokenBound, which stays the worst case; being cheap, it
// is no substitute for the provider's count.
func PromptTokenEstimate(body []byte) int64 {
	root := gjson.ParseBytes(body)
	var binary, extra int64
	if root.Get("tools.#").Int() > 0 {
		extra += 500 // the tool-use system prompt
	}
	var walk func(v gjson.Result)
	walk = func(v gjson.Result) {
		if v.IsObject() {
			switch v.Get("type").Str {
			case "image":
				binary += int64(len(v.Get("source.data").Raw))
				extra += imageTokensTypical
				return
			case "document":
				switch v.Get("source.type").Str {
				case "text", "content":
				default:
					data := int64(len(v.Get("source.data").Raw))
					binary += data
					extra += max(data/pdfBytesPerToken, 3_000)
					return
				}
			}
		}
		if v.IsObject() || v.IsArray() {
			v.ForEach(func(_, c gjson.Result) bool { walk(c); return true })
		}
	}
	walk(root.Get("messages"))
	walk(root.Get("system"))
	n := max(int64(len(body))-binary, 0)/textBytesPerToken + extra
	return min(n, PromptTokenBound(body))
}
