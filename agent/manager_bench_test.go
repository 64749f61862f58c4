package agent

import (
	"fmt"
	"sync"
	"testing"
)

// BenchmarkApply applies a set of n tiny probes (all new) to a manager
// with a store: compile, index, one snapshot write. The per-op time is the
// whole apply; ns/probe is reported too.
func BenchmarkApply(b *testing.B) {
	for _, n := range []int{1000, 10000, 45000} {
		docs := tinyProbes("p", n)
		b.Run(fmt.Sprintf("probes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				store, _ := OpenStore(b.TempDir())
				m := NewManager(quietLog(), store, nil)
				b.StartTimer()
				if _, err := m.Apply(1, docs); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				store.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/probe")
		})
	}
}

// BenchmarkRestore restores n stored probes (agent start).
func BenchmarkRestore(b *testing.B) {
	for _, n := range []int{10000, 45000} {
		dir := b.TempDir()
		store, _ := OpenStore(dir)
		if _, err := NewManager(quietLog(), store, nil).Apply(1, tinyProbes("p", n)); err != nil {
			b.Fatal(err)
		}
		store.Close()
		b.Run(fmt.Sprintf("probes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				store, _ := OpenStore(dir)
				m := NewManager(quietLog(), store, nil)
				if err := m.Restore(); err != nil {
					b.Fatal(err)
				}
				store.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/probe")
		})
	}
}

// BenchmarkCreate is REST POSTs: b.N creates from 16 concurrent clients,
// each durable (journal record, shared fsync) before it returns.
func BenchmarkCreate(b *testing.B) {
	docs := tinyProbes("c", b.N)
	store, _ := OpenStore(b.TempDir())
	defer store.Close()
	m := NewManager(quietLog(), store, nil)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	const clients = 16
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < b.N; i += clients {
				if _, err := m.Create(docs[i]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	st := store.Stats()
	b.ReportMetric(float64(st.Syncs)/float64(b.N), "fsyncs/op")
	b.ReportMetric(float64(st.Bytes)/float64(b.N), "stored-B/op")
}
