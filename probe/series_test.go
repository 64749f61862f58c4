package probe

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// seriesModel is what a series must hold: the last limit samples pushed,
// less those trimmed.
type seriesModel struct{ t []int64 }

func (m *seriesModel) push(t int64, limit int) {
	m.t = append(m.t, t)
	if len(m.t) > limit {
		m.t = m.t[len(m.t)-limit:]
	}
}

func (m *seriesModel) trim(before int64) {
	for len(m.t) > 0 && m.t[0] < before {
		m.t = m.t[1:]
	}
}

func checkSeries(t *testing.T, r *ring, m *seriesModel, step string) {
	t.Helper()
	if r.n != len(m.t) {
		t.Fatalf("%s: %d samples, want %d", step, r.n, len(m.t))
	}
	k := 0
	r.each(func(s Sample) {
		if s.Time.UnixNano() != m.t[k] || s.Value.Num != float64(m.t[k]) {
			t.Fatalf("%s: sample %d = %v %v, want %d", step, k, s.Time.UnixNano(), s.Value.Num, m.t[k])
		}
		k++
	})
	if r.bytes != chargedBytes(r) {
		t.Fatalf("%s: the series charged %d bytes, it holds %d", step, r.bytes, chargedBytes(r))
	}
}

// chargedBytes is what a series holds, counted from its chunks.
func chargedBytes(r *ring) int64 {
	b := ringBytes + int64(len(r.chunks))*8
	for j := 0; j < r.nc; j++ {
		ch := r.chunk(j)
		b += chunkBytes + int64(len(ch.t))*sampleBytes(ch.num != nil, ch.str != nil)
	}
	if r.spare != nil {
		b += chunkBytes + int64(len(r.spare.t))*sampleBytes(r.spare.num != nil, r.spare.str != nil)
	}
	return b
}

// TestSeriesAgainstModel: whatever the mix of appends at a limit,
// duration trims and whole replacements, a series holds exactly the
// samples it should, oldest first, and charges what its chunks hold.
func TestSeriesAgainstModel(t *testing.T) {
	for _, limit := range []int{1, 2, 3, 5, 31, 32, 33, 64, 100, 1000} {
		for _, trimEvery := range []int{0, 3, 50} {
			t.Run(fmt.Sprintf("limit=%d/trim=%d", limit, trimEvery), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(limit), uint64(trimEvery)))
				var acct account
				r := newRing(&acct, false)
				m := &seriesModel{}
				now := int64(0)
				for step := range 5000 {
					now += 1 + rng.Int64N(3)
					r.push(now, Value{Num: float64(now)}, limit)
					m.push(now, limit)
					if trimEvery > 0 && step%trimEvery == 0 {
						before := now - rng.Int64N(int64(2*limit)+2)
						r.trimBefore(before)
						m.trim(before)
					}
					if step%997 == 996 { // a series arriving whole
						r.reset()
						m.t = m.t[:0]
					}
					checkSeries(t, r, m, fmt.Sprintf("step %d", step))
				}
				if got := acct.used.Load(); got != r.bytes {
					t.Errorf("account holds %d bytes, the series %d", got, r.bytes)
				}
			})
		}
	}
}

// TestSeriesMemoryFollowsHeldSamples: an accumulate stage's items cost the
// samples they hold plus a constant, whatever max_samples allows: measured
// on the heap (runtime.MemStats, no timing) around building the stage. The
// former ring reserved min(max_samples, 1024) samples of 48 bytes per item
// on the first append and fails every case.
func TestSeriesMemoryFollowsHeldSamples(t *testing.T) {
	const items = 2000
	// The constant: the series header and at most one chunk not full;
	// and per chunk of 64 samples its header and its place in the chunk
	// list (at most half empty): 88 bytes, 1.4 per sample.
	const slack = 96 + chunkSamples*SampleBytes
	const perChunk = 72 + 2*8
	for _, held := range []int{1, 3, 40, 200, 1024} {
		t.Run(fmt.Sprintf("held=%d", held), func(t *testing.T) {
			keys := make([]string, items)
			for i := range keys {
				keys[i] = fmt.Sprint("Ethernet", i)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			st := &Stage{Name: "acc", Type: NSTS, Keys: []string{"interface"}, Columns: []Column{{Name: "value", Kind: Number}}, MaxSamples: 1024}
			st.SetLayout(layoutOf(keys...))
			for k := range held {
				st.begin(uint64(k+1), time.Unix(int64(1e9+k), 0))
				for i := range items {
					st.Append(i, Value{Num: float64(k + i)})
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(st)
			perItem := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / items
			// The layout itself: keys, props, the value, change mark and
			// series pointer columns and the index.
			const layout = 16 + 16 + len("Ethernet1999") + 8 + 4 + 8 + 8
			bound := int64(held*SampleBytes + (held/chunkSamples+1)*perChunk + slack + layout + 64)
			t.Logf("%d bytes per item holding %d samples (bound %d)", perItem, held, bound)
			if perItem > bound {
				t.Errorf("%d bytes per item holding %d samples, want at most %d (%d per sample plus %d)", perItem, held, bound, SampleBytes, bound-int64(held*SampleBytes))
			}
			if got := st.Item(7).SampleCount(); got != held {
				t.Errorf("item holds %d samples, want %d", got, held)
			}
		})
	}
}

// TestSeriesSteadyStateAllocatesNothing: a series at its limit, or in a
// moving duration window, reuses the chunk its front empties.
func TestSeriesSteadyStateAllocatesNothing(t *testing.T) {
	for _, tt := range []struct {
		name     string
		limit    int
		duration time.Duration
	}{
		{"at max_samples 16", 16, 0},
		{"at max_samples 100", 100, 0},
		{"at max_samples 4096", 4096, 0},
		{"total_duration 90s", 4096, 90 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &Stage{Name: "acc", Type: NSTS, Keys: []string{"k"}, Columns: []Column{{Name: "value", Kind: Number}}, MaxSamples: tt.limit, MaxDuration: tt.duration}
			st.SetLayout(layoutOf("a", "b"))
			k := 0
			tick := func() {
				k++
				st.begin(uint64(k), time.Unix(int64(k), 0))
				st.Append(0, Value{Num: float64(k)})
				st.Append(1, Value{Num: float64(-k)})
			}
			for range 2*tt.limit + 200 {
				tick()
			}
			if n := testing.AllocsPerRun(500, tick); n != 0 {
				t.Errorf("%v allocations per append in steady state, want 0", n)
			}
			want := tt.limit
			if tt.duration > 0 {
				want = 91
			}
			if got := st.Item(0).SampleCount(); got != want {
				t.Errorf("%d samples held, want %d", got, want)
			}
		})
	}
}

// TestSeriesTimesRoundTrip: samples keep their instant to the nanosecond,
// and the zero time stays zero.
func TestSeriesTimesRoundTrip(t *testing.T) {
	st := newTestStage(DSTS)
	st.MaxSamples = 8
	st.SetLayout(layoutOf("a"))
	at := time.Date(2026, 12, 3, 17, 0, 0, 123456789, time.UTC)
	st.begin(1, at)
	st.Append(0, Value{Str: "up"})
	st.begin(2, time.Time{})
	st.Append(0, Value{Str: "down"})
	var got []Sample
	st.Item(0).Samples(func(s Sample) { got = append(got, s) })
	if len(got) != 2 || !got[0].Time.Equal(at) || got[0].Value.Str != "up" || !got[1].Time.IsZero() || got[1].Value.Str != "down" {
		t.Errorf("samples %+v", got)
	}
}

// TestLayoutOverBudgetRefused: a stage refuses, before allocating it, a
// layout of more items than limits.items_per_stage or one the memory
// budget cannot take, with a *LimitError naming the budget (the
// instance's evaluation turns it into the probe's error); the stage keeps
// its former layout.
func TestLayoutOverBudgetRefused(t *testing.T) {
	for _, tt := range []struct {
		name   string
		limits Limits
		budget int64
		items  int
		want   string
	}{
		{"items", Limits{ItemsPerStage: 10}, 1 << 20, 11, `stage "s": 11 items; the budget is 10 items per stage (limits.items_per_stage)`},
		{"memory", Limits{}, 4 << 10, 1000, `stage "s": 1000 items need`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newTestStage(NS)
			st.acct = &account{budget: NewMemoryBudget(tt.budget), limits: tt.limits}
			st.SetLayout(layoutOf("a", "b"))
			keys := make([]string, tt.items)
			for i := range keys {
				keys[i] = fmt.Sprint(i)
			}
			func() {
				defer func() {
					le, ok := recover().(*LimitError)
					if !ok || !strings.HasPrefix(le.Error(), tt.want) {
						t.Fatalf("refusal %v, want %q", le, tt.want)
					}
				}()
				st.SetLayout(layoutOf(keys...))
			}()
			if st.Len() != 2 || st.acct.layouts.Load() != 1 || st.acct.budget.Used() != st.charged {
				t.Errorf("after the refusal: %d items, %d refused, budget %d for %d charged", st.Len(), st.acct.layouts.Load(), st.acct.budget.Used(), st.charged)
			}
		})
	}
}
