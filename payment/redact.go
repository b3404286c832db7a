package payment

// Redacted describes the set by fingerprints only, e.g.
// "{current=[secret fp=3f2a…] previous=[secret fp=9b1c…] until=2026-11-28T02:00:00Z}":
// the text the provider clients print for their keys. It never holds a
// secret.
func (s SecretSet) Redacted() string {
	b := "{current=" + s.Current.Redacted()
	if !s.Previous.IsZero() {
		b += " previous=" + s.Previous.Redacted()
		if !s.PreviousUntil.IsZero() {
			b += " until=" + s.PreviousUntil.Format("2006-01-02T15:04:05Z07:00")
		}
	}
	if s.Incident {
		b += " incident"
	}
	return b + "}"
}
