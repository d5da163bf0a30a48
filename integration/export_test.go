package integration

// WithPortPicker replaces the free-port picker, so tests can hand out a port that is taken.
func WithPortPicker(pick func() (int, error)) Option {
	return func(o *options) { o.pickPort = pick }
}
