package bedrocksim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// catalogModel is a Claude foundation model the simulated account has
// system-defined inference profiles for.
type catalogModel struct {
	BaseID  string // anthropic.claude-...
	Display string // "Claude Sonnet 4.5"
	Global  bool   // also has a global. profile
	Created time.Time
}

var catalog = []catalogModel{
	{"anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5", true, time.Date(2025, 9, 29, 0, 0, 0, 0, time.UTC)},
	{"anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5", true, time.Date(2025, 10, 15, 0, 0, 0, 0, time.UTC)},
	{"anthropic.claude-opus-4-6-v1", "Claude Opus 4.6", true, time.Date(2026, 2, 5, 0, 0, 0, 0, time.UTC)},
	{"anthropic.claude-opus-4-1-20250805-v1:0", "Claude Opus 4.1", false, time.Date(2025, 8, 5, 0, 0, 0, 0, time.UTC)},
	{"anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4", true, time.Date(2025, 5, 22, 0, 0, 0, 0, time.UTC)},
}

// geography is a cross-region profile prefix and the regions it routes to.
type geography struct {
	Prefix, Label string
	Regions       []string
}

// geographyOf follows the prefixes Claude Code derives from the region.
func geographyOf(region string) (geography, bool) {
	switch {
	case strings.HasPrefix(region, "us-gov-"):
		return geography{"us-gov", "GovCloud", []string{"us-gov-west-1", "us-gov-east-1"}}, true
	case strings.HasPrefix(region, "us-"):
		return geography{"us", "US", []string{"us-east-1", "us-east-2", "us-west-2"}}, true
	case strings.HasPrefix(region, "eu-"):
		return geography{"eu", "EU", []string{"eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3"}}, true
	case strings.HasPrefix(region, "ap-"):
		return geography{"apac", "APAC", []string{"ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2"}}, true
	}
	return geography{}, false
}

// Wire shape shared by ListInferenceProfiles summaries and
// GetInferenceProfile (aws-sdk-go-v2 service/bedrock types).
type inferenceProfile struct {
	InferenceProfileName string         `json:"inferenceProfileName"`
	Description          string         `json:"description"`
	CreatedAt            string         `json:"createdAt"`
	UpdatedAt            string         `json:"updatedAt"`
	InferenceProfileArn  string         `json:"inferenceProfileArn"`
	Models               []profileModel `json:"models"`
	InferenceProfileID   string         `json:"inferenceProfileId"`
	Status               string         `json:"status"`
	Type                 string         `json:"type"`
}

type profileModel struct {
	ModelArn string `json:"modelArn"`
}

// profiles lists the system-defined profiles of the simulated region: one
// per catalog model for the region's geography, plus global ones.
func (s *Server) profiles() []inferenceProfile {
	region := s.opts.Region
	var out []inferenceProfile
	mk := func(prefix, label string, regions []string, m catalogModel) inferenceProfile {
		id := prefix + "." + m.BaseID
		p := inferenceProfile{
			InferenceProfileName: label + " Anthropic " + m.Display,
			CreatedAt:            m.Created.Format(time.RFC3339),
			UpdatedAt:            m.Created.Format(time.RFC3339),
			InferenceProfileArn:  fmt.Sprintf("arn:aws:bedrock:%s:%s:inference-profile/%s", region, SimAccountID, id),
			InferenceProfileID:   id,
			Status:               "ACTIVE",
			Type:                 "SYSTEM_DEFINED",
		}
		if regions == nil {
			p.Description = "Routes requests to Anthropic " + m.Display + " in all supported commercial regions."
			p.Models = []profileModel{{ModelArn: "arn:aws:bedrock:::foundation-model/" + m.BaseID}}
			return p
		}
		p.Description = "Routes requests to Anthropic " + m.Display + " in " + joinRegions(regions) + "."
		for _, r := range regions {
			p.Models = append(p.Models, profileModel{ModelArn: "arn:aws:bedrock:" + r + "::foundation-model/" + m.BaseID})
		}
		return p
	}
	if g, ok := geographyOf(region); ok {
		for _, m := range catalog {
			out = append(out, mk(g.Prefix, g.Label, g.Regions, m))
		}
	}
	for _, m := range catalog {
		if m.Global {
			out = append(out, mk("global", "Global", nil, m))
		}
	}
	return out
}

func joinRegions(rs []string) string {
	if len(rs) == 1 {
		return rs[0]
	}
	return strings.Join(rs[:len(rs)-1], ", ") + " and " + rs[len(rs)-1]
}

// listInferenceProfiles answers ListInferenceProfiles (GET
// /inference-profiles?type=&maxResults=&nextToken=). nextToken is the
// decimal index of the next profile.
func (s *Server) listInferenceProfiles(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	all := s.profiles()
	switch t := q.Get("type"); t {
	case "", "SYSTEM_DEFINED":
	case "APPLICATION":
		all = nil
	default:
		return validationError("1 validation error detected: Value '%s' at 'typeEquals' failed to satisfy constraint: Member must satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]", t)
	}
	limit := 1000
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return validationError("1 validation error detected: Value '%s' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000 and greater than or equal to 1", v)
		}
		limit = n
	}
	start := 0
	if v := q.Get("nextToken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > len(all) {
			return validationError("The provided pagination token is invalid.")
		}
		start = n
	}
	end := min(start+limit, len(all))
	resp := struct {
		Summaries []inferenceProfile `json:"inferenceProfileSummaries"`
		NextToken *string            `json:"nextToken,omitempty"`
	}{Summaries: append([]inferenceProfile{}, all[start:end]...)}
	if end < len(all) {
		next := strconv.Itoa(end)
		resp.NextToken = &next
	}
	writeJSON(w, resp)
	return nil
}

// getInferenceProfile answers GetInferenceProfile (GET
// /inference-profiles/{id}); id is a profile id or its ARN.
func (s *Server) getInferenceProfile(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("id")
	for _, p := range s.profiles() {
		if p.InferenceProfileID == id || p.InferenceProfileArn == id {
			writeJSON(w, p)
			return nil
		}
	}
	return &apiError{Status: http.StatusNotFound, Type: "ResourceNotFoundException", Message: "The specified inference profile " + id + " couldn't be found."}
}

func writeJSON(w http.ResponseWriter, v any) {
	body := mustJSON(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}
