package model

import "net/url"

// Redact returns the URL s with any password replaced by "xxxxx", for messages and logs.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
