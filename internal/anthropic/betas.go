package anthropic

import (
	"errors"
	"strings"
)

// Limits on beta lists. Claude Code sends about ten betas of under 40
// bytes; these bounds leave ample room while keeping a hostile header or body
// from costing more than a few microseconds.
const (
	MaxBetas   = 64
	MaxBetaLen = 128
)

// ErrTooManyBetas is returned for beta lists beyond MaxBetas or MaxBetaLen.
var ErrTooManyBetas = errors.New("too many or too long anthropic-beta values")

// BetaSet is an ordered set of beta names: duplicates and empty values are
// dropped, the first occurrence's position is kept.
type BetaSet struct {
	list []string
	seen map[string]struct{}
}

// Add adds betas, trimming spaces. It fails once the set would exceed the
// limits.
func (s *BetaSet) Add(betas ...string) error {
	for _, b := range betas {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if len(b) > MaxBetaLen {
			return ErrTooManyBetas
		}
		if s.seen == nil {
			s.seen = make(map[string]struct{}, 16)
		}
		if _, dup := s.seen[b]; dup {
			continue
		}
		if len(s.list) >= MaxBetas {
			return ErrTooManyBetas
		}
		s.seen[b] = struct{}{}
		s.list = append(s.list, b)
	}
	return nil
}

// AddHeader adds the comma-separated values of anthropic-beta header lines.
func (s *BetaSet) AddHeader(values []string) error {
	for _, v := range values {
		if strings.Count(v, ",") >= MaxBetas {
			return ErrTooManyBetas
		}
		if err := s.Add(strings.Split(v, ",")...); err != nil {
			return err
		}
	}
	return nil
}

// List returns the betas in order.
func (s *BetaSet) List() []string { return s.list }

// FilterBetas splits betas into those kept and those a target's rules drop.
func FilterBetas(betas, drop []string) (kept, dropped []string) {
	if len(drop) == 0 {
		return betas, nil
	}
	for _, b := range betas {
		removed := false
		for _, d := range drop {
			if b == d {
				removed = true
				break
			}
		}
		if removed {
			dropped = append(dropped, b)
		} else {
			kept = append(kept, b)
		}
	}
	return kept, dropped
}
