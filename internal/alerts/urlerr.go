package alerts

import (
	"errors"
	"net/url"
)

// unwrapURL drops the *url.Error wrapper, whose message repeats the whole
// URL (for Slack, a secret).
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
