package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/internal/fftest"
)

// Live latency: a live H.264 stream (testsrc2 at liveSize, liveFPS) is sent over UDP loopback
// at its own pace for HITSR_LIVE_SECONDS (default 600) and upscaled in fidelity mode (shipped
// model, CPU) with --realtime to ×2 and ×4 MPEG-TS over UDP. Latency is a frame's send time to
// the arrival of the same frame (by its timestamp) in the ×4 stream; p50/p95/max are printed
// for the run and per minute, with the model queue and the fullest encoder queue sampled
// every second (bounded queues: no growth), and the frames degraded and dropped.
func BenchmarkLiveLatency(b *testing.B) {
	fftest.Need(b, "ffmpeg")
	const liveSize, liveFPS = "160x90", 10
	seconds := 600
	if v, err := strconv.Atoi(os.Getenv("HITSR_LIVE_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	d := b.TempDir()
	clip := filepath.Join(d, "clip.ts") // 10 s, looped by the sender with shifted timestamps
	fftest.FFmpeg(b, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d:duration=10", liveSize, liveFPS),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", strconv.Itoa(liveFPS), "-bf", "0", clip)
	m, err := hitsr.Load(shipped, "cpu")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if !m.Has(hitsr.Fidelity) {
		b.Skip("the shipped model has no fidelity network")
	}
	m.Mode = hitsr.Fidelity
	in, out := udpPort(b), udpPort(b)
	var mu sync.Mutex
	sent := map[int64]time.Time{} // pts → send time
	got := map[int64]time.Time{}  // pts → arrival in the ×4 stream
	type queueSample struct {
		at              time.Duration
		queued, backlog int
	}
	var queues []queueSample

	recvErr := make(chan error, 1)
	go func() { recvErr <- receive(fmt.Sprintf("udp://127.0.0.1:%d", out), &mu, got) }()
	var st Stats
	runErr := make(chan error, 1)
	go func() {
		var err error
		lastSample := time.Duration(-1)
		st, err = Run(context.Background(), m, Options{Input: fmt.Sprintf("udp://127.0.0.1:%d", in), Realtime: true,
			InputTimeout: 2 * time.Second, Outputs: []Output{
				{URL: fmt.Sprintf("udp://127.0.0.1:%d", udpPort(b)), Target: hitsr.Target{Scale: 2}, CRF: 23, Preset: "ultrafast"},
				{URL: fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", out), Target: hitsr.Target{Scale: 4}, CRF: 23, Preset: "ultrafast"}},
			Progress: func(s Stats) {
				if s.Elapsed-lastSample >= time.Second {
					lastSample = s.Elapsed
					queues = append(queues, queueSample{s.Elapsed, s.Queued, s.Backlog})
				}
			}})
		runErr <- err
	}()
	time.Sleep(500 * time.Millisecond) // the receivers are bound
	b.ResetTimer()
	if err := send(clip, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", in), time.Duration(seconds)*time.Second, &mu, sent); err != nil {
		b.Fatal(err)
	}
	if err := <-runErr; err != nil {
		b.Fatal(err)
	}
	err = <-recvErr // 3 s after the last packet
	b.StopTimer()
	if err != nil && !errors.Is(err, astiav.ErrExit) {
		b.Logf("receiver: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	var all []float64
	perMinute := map[int][]float64{}
	var start time.Time
	for _, t := range sent {
		if start.IsZero() || t.Before(start) {
			start = t
		}
	}
	for pts, t := range got {
		if s, ok := sent[pts]; ok {
			ms := float64(t.Sub(s).Microseconds()) / 1e3
			all = append(all, ms)
			minute := int(s.Sub(start).Minutes())
			perMinute[minute] = append(perMinute[minute], ms)
		}
	}
	if len(all) == 0 {
		b.Fatalf("no frame of the %d sent arrived in the ×4 stream (stats %+v)", len(sent), st)
	}
	p50, p95, pmax := percentiles(all)
	b.ReportMetric(p50, "p50_ms")
	b.ReportMetric(p95, "p95_ms")
	b.Logf("%s at %d fps, %d s, fidelity mode on %s → ×2 + ×4 (x264 ultrafast, MPEG-TS over UDP): %d frames sent, %d decoded, %d done, %d degraded, %d dropped, %d matched in the ×4 stream",
		liveSize, liveFPS, seconds, m.Backend().Name(), len(sent), st.Decoded, st.Done, st.Degraded, st.Dropped, len(all))
	b.Logf("latency send → ×4 arrival: p50 %.0f ms, p95 %.0f ms, max %.0f ms", p50, p95, pmax)
	for minute := 0; minute < len(perMinute)+1; minute++ {
		v := perMinute[minute]
		if len(v) == 0 {
			continue
		}
		q, bl := 0, 0
		for _, s := range queues {
			if int(s.at.Minutes()) == minute {
				q, bl = max(q, s.queued), max(bl, s.backlog)
			}
		}
		a, c, e := percentiles(v)
		b.Logf("minute %d: %d frames, latency p50 %.0f / p95 %.0f / max %.0f ms; model queue max %d, encoder queue max %d", minute, len(v), a, c, e, q, bl)
	}
}

func percentiles(v []float64) (p50, p95, pmax float64) {
	slices.Sort(v)
	at := func(q float64) float64 { return v[min(int(q*float64(len(v))), len(v)-1)] }
	return at(0.5), at(0.95), v[len(v)-1]
}

func udpPort(b *testing.B) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// send plays clip to url as a live MPEG-TS stream for d: each packet written at its time
// (the clip looped, its timestamps shifted by the clip's length each time), its send time
// recorded by pts.
func send(clip, url string, d time.Duration, mu *sync.Mutex, sent map[int64]time.Time) error {
	ic := astiav.AllocFormatContext()
	defer ic.Free()
	if err := ic.OpenInput(clip, nil, nil); err != nil {
		return err
	}
	defer ic.CloseInput()
	if err := ic.FindStreamInfo(nil); err != nil {
		return err
	}
	ist := ic.Streams()[0]
	var pkts []*astiav.Packet
	for {
		p := astiav.AllocPacket()
		if err := ic.ReadFrame(p); err != nil {
			p.Free()
			break
		}
		pkts = append(pkts, p)
	}
	defer func() {
		for _, p := range pkts {
			p.Free()
		}
	}()
	if len(pkts) < 2 {
		return fmt.Errorf("%s: %d packets", clip, len(pkts))
	}
	step := pkts[1].Pts() - pkts[0].Pts()
	loop := pkts[len(pkts)-1].Pts() - pkts[0].Pts() + step
	oc, err := astiav.AllocOutputFormatContext(nil, "mpegts", url)
	if err != nil {
		return err
	}
	defer oc.Free()
	ost := oc.NewStream(nil)
	if err := ist.CodecParameters().Copy(ost.CodecParameters()); err != nil {
		return err
	}
	ost.SetTimeBase(ist.TimeBase())
	ioc, err := astiav.OpenIOContext(url, astiav.NewIOContextFlags(astiav.IOContextFlagWrite))
	if err != nil {
		return err
	}
	defer ioc.Close()
	oc.SetPb(ioc)
	opts := astiav.NewDictionary()
	defer opts.Free()
	opts.Set("flush_packets", "1", astiav.NewDictionaryFlags())
	if err := oc.WriteHeader(opts); err != nil {
		return err
	}
	tb := ist.TimeBase()
	start := time.Now()
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	for n := int64(0); ; n++ {
		for _, p := range pkts {
			pts := p.Pts() + n*loop
			due := start.Add(time.Duration(float64(pts-pkts[0].Pts()) * tb.Float64() * float64(time.Second)))
			if due.Sub(start) >= d {
				return oc.WriteTrailer()
			}
			time.Sleep(time.Until(due))
			if err := pkt.Ref(p); err != nil {
				return err
			}
			pkt.SetPts(pts)
			pkt.SetDts(p.Dts() + n*loop)
			pkt.SetStreamIndex(0)
			pkt.RescaleTs(tb, ost.TimeBase())
			outPts := pkt.Pts()
			mu.Lock()
			sent[outPts] = time.Now()
			mu.Unlock()
			if err := oc.WriteFrame(pkt); err != nil {
				return err
			}
		}
	}
}

// receive records the arrival time of every video packet of the MPEG-TS stream at url by pts,
// until no packet arrives for 3 s after the first.
func receive(url string, mu *sync.Mutex, got map[int64]time.Time) error {
	fc := astiav.AllocFormatContext()
	defer fc.Free()
	intr := fc.SetInterruptCallback()
	last := time.Now()
	var lastMu sync.Mutex
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
				lastMu.Lock()
				quiet := time.Since(last) > 3*time.Second
				lastMu.Unlock()
				mu.Lock()
				quiet = quiet && len(got) > 0
				mu.Unlock()
				if quiet {
					intr.Interrupt()
					return
				}
			}
		}
	}()
	if err := fc.OpenInput(url, astiav.FindInputFormat("mpegts"), nil); err != nil {
		return err
	}
	defer fc.CloseInput()
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	for {
		if err := fc.ReadFrame(pkt); err != nil {
			return err
		}
		now := time.Now()
		lastMu.Lock()
		last = now
		lastMu.Unlock()
		if st := fc.Streams()[pkt.StreamIndex()]; st.CodecParameters().MediaType() == astiav.MediaTypeVideo {
			pts := astiav.RescaleQ(pkt.Pts(), st.TimeBase(), astiav.NewRational(1, 90000))
			mu.Lock()
			if _, ok := got[pts]; !ok {
				got[pts] = now
			}
			mu.Unlock()
		}
		pkt.Unref()
	}
}
