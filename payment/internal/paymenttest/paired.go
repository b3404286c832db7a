package paymenttest

import (
	"testing"
	"time"
)

// Paired runs verify and bare in alternating batches of 64 operations and
// reports both per-operation times and their ratio (metric "x-bare"), so
// the two sides always run under the same machine load: on a shared,
// loaded machine, separate sub-benchmarks run minutes apart under
// different loads. b.N counts pairs.
func Paired(b *testing.B, verify, bare func()) { PairedKeyed(b, verify, bare, nil) }

// PairedKeyed is Paired with a third side, keyed, run in its own batch
// after the other two: the bare HMAC with its key's pads hashed once
// (internal/keyedmac, as the verifiers now do), reported as
// "keyed-ns/op" and the ratio "x-keyed" of verify to it. x-bare compares
// with the hmac.New-per-message floor issue 14 sets the target against;
// x-keyed says what verifying costs beyond the cheapest HMAC of the same
// string, so a gain from keying once is not read as a gain in parsing.
// keyed nil is Paired.
func PairedKeyed(b *testing.B, verify, bare, keyed func()) {
	const batch = 64
	var tv, tb, tk time.Duration
	n := 0
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			verify()
		}
		t1 := time.Now()
		for range batch {
			bare()
		}
		t2 := time.Now()
		if keyed != nil {
			for range batch {
				keyed()
			}
			tk += time.Since(t2)
		}
		tb += t2.Sub(t1)
		tv += t1.Sub(t0)
		n += batch
	}
	b.ReportMetric(float64(tv.Nanoseconds())/float64(n), "verify-ns/op")
	b.ReportMetric(float64(tb.Nanoseconds())/float64(n), "bare-ns/op")
	b.ReportMetric(float64(tv)/float64(tb), "x-bare")
	if keyed != nil {
		b.ReportMetric(float64(tk.Nanoseconds())/float64(n), "keyed-ns/op")
		b.ReportMetric(float64(tv)/float64(tk), "x-keyed")
	}
}
