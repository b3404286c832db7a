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
func Paired(b *testing.B, verify, bare func()) {
	const batch = 64
	var tv, tb time.Duration
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
		tb += time.Since(t1)
		tv += t1.Sub(t0)
		n += batch
	}
	b.ReportMetric(float64(tv.Nanoseconds())/float64(n), "verify-ns/op")
	b.ReportMetric(float64(tb.Nanoseconds())/float64(n), "bare-ns/op")
	b.ReportMetric(float64(tv)/float64(tb), "x-bare")
}
