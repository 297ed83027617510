package pipeline

// An HLS ladder: every rendition is an ordinary output (its own encoder, fed by the same model
// pass) into FFmpeg's hls muxer, which writes the segments and the media playlist. Keyframes
// are forced at the same timestamps in every rendition, so segment boundaries align; the
// master playlist is written here, from the segments as measured on disk.

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/hitsr/hitsr/internal/regfile"
	"go.uber.org/zap"
)

// Ladder is one HLS output: a master playlist in Dir listing one media playlist per rendition.
type Ladder struct {
	Dir         string        // local directory, created if missing
	Renditions  []Output      // Target and encoder settings; URL and Format are the ladder's
	SegmentTime time.Duration // segment length (default 2 s)
	ListSize    int           // 0: every segment in the playlists (VOD); N: a live window of N segments
}

const (
	masterName   = "master.m3u8"
	mediaName    = "index.m3u8"
	segmentGlob  = "seg_*.ts"
	segmentNameF = "seg_%05d.ts"
)

// ladder writes one Ladder's master playlist and owns its files.
type ladder struct {
	spec    Ladder
	made    []string // directories this run created (removed again by discard when empty)
	rends   []*rendition
	fps     float64
	log     *zap.Logger
	mu      sync.Mutex // rends' measurements and the master playlist
	master  string     // contents last written
	kept    bool
	written bool
	io      sync.RWMutex // held shared by each rendition's encoding and muxing, alone by discard
	gone    bool         // discarded: the renditions write nothing more (guarded by io)
}

// rendition is the ladder's part of one output: forced keyframes and measured segments.
type rendition struct {
	l         *ladder
	name, dir string
	every     time.Duration // segment length
	first     int64         // first frame's pts (encoder time base); NoPtsValue until then
	next      int           // index of the next segment boundary
	forced    []int64       // pts of forced keyframes not yet seen as packets (encTB)
	encTB     astiav.Rational
	starts    []float64 // segment start times (s) as written to the muxer
	end       float64   // end of the last video packet written (s)
	segs      []segInfo // segments measured on disk, in order
	video     string    // RFC 6381 codec of the video ("avc1.64001f")
	audio     []string  // and of each audio stream
	w, h      int
}

type segInfo struct {
	dur   float64
	bytes int64
}

// checkLadders refuses, before anything is read: a ladder directory that CheckLadderDir refuses
// or that holds the input file (links followed), two ladders in one directory or one inside the
// other, and a file output inside a ladder's directory.
func checkLadders(input string, ladders []Ladder, files []*File, overwrite bool) error {
	in := stat(input, 0)
	dirs := make([]string, len(ladders))
	for i, l := range ladders {
		if err := CheckLadderDir(l.Dir, overwrite); err != nil {
			return err
		}
		if in != nil && holds(l.Dir, in) {
			return errf(KindUsage, "hls:%s holds the input file", l.Dir)
		}
		dirs[i] = resolve(l.Dir)
		for j, d := range dirs[:i] {
			if within(dirs[i], d) || within(d, dirs[i]) {
				return errf(KindUsage, "hls:%s and hls:%s share a directory", ladders[j].Dir, l.Dir)
			}
		}
	}
	for _, f := range files {
		for i, d := range dirs {
			if f != nil && within(resolve(f.final), d) {
				return errf(KindUsage, "%s is inside the directory of hls:%s", f.Name, ladders[i].Dir)
			}
		}
	}
	return nil
}

// holds reports whether the tree under dir has a name for the file fi.
func holds(dir string, fi os.FileInfo) bool {
	found := false
	filepath.WalkDir(resolve(dir), func(path string, _ fs.DirEntry, err error) error {
		if err == nil {
			if g, err := os.Stat(path); err == nil && os.SameFile(g, fi) {
				found = true
				return filepath.SkipAll
			}
		}
		return nil
	})
	return found
}

// resolve is path made absolute with the symbolic links of its longest existing prefix resolved.
func resolve(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	rest := ""
	for p := abs; ; p = filepath.Dir(p) {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(real, rest)
		}
		if p == filepath.Dir(p) {
			return abs
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// within reports whether the resolved path p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}

// CheckLadderDir refuses a ladder directory that holds anything unless overwrite.
func CheckLadderDir(dir string, overwrite bool) error {
	if dir == "" || !IsFile(dir) {
		return errf(KindUsage, "hls:%s: the ladder is written to a local directory", dir)
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return errf(KindUsage, "hls:%s: %v", dir, unwrapPath(err))
	case !fi.IsDir():
		return errf(KindUsage, "hls:%s: exists and is not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return errf(KindUsage, "hls:%s: %v", dir, unwrapPath(err))
	}
	if len(ents) > 0 && !overwrite {
		return errf(KindUsage, "hls:%s: directory exists and is not empty (use -y to replace its playlists and segments)", dir)
	}
	return nil
}

// openLadder creates the ladder's directories and opens one output per rendition.
func openLadder(in *input, spec Ladder, o Options) (l *ladder, outs []*output, err error) {
	if spec.SegmentTime <= 0 {
		spec.SegmentTime = 2 * time.Second
	}
	if len(spec.Renditions) == 0 {
		return nil, nil, errf(KindUsage, "hls:%s: no renditions", spec.Dir)
	}
	l = &ladder{spec: spec, fps: in.fps().Float64(), log: o.Log.With(zap.String("ladder", spec.Dir))}
	defer func() {
		if err != nil {
			for _, w := range outs {
				w.close()
			}
			l.discard()
		}
	}()
	if err := l.mkdir(spec.Dir); err != nil {
		return nil, nil, err
	}
	names := map[string]bool{}
	for _, r := range spec.Renditions {
		ow, oh, err := r.Target.Size(in.w, in.h)
		if err != nil {
			return l, outs, errf(KindUsage, "hls:%s: %v", spec.Dir, err)
		}
		name := fmt.Sprintf("%dx%d", ow, oh)
		for i := 2; names[name]; i++ {
			name = fmt.Sprintf("%dx%d-%d", ow, oh, i)
		}
		names[name] = true
		rd := &rendition{l: l, name: name, dir: filepath.Join(spec.Dir, name), every: spec.SegmentTime, first: astiav.NoPtsValue}
		if err := l.mkdir(rd.dir); err != nil {
			return l, outs, err
		}
		for _, old := range rd.files() { // -y: what an earlier run left under these names
			os.Remove(old)
		}
		r.URL, r.Format, r.VF = filepath.Join(rd.dir, mediaName), "hls", ""
		w, err := newRendition(in, r, rd, o)
		if err != nil {
			return l, outs, err
		}
		outs = append(outs, w)
		l.rends = append(l.rends, rd)
	}
	return l, outs, nil
}

// newRendition opens the output of one rendition: H.264 (the master playlist names its profile
// and level), no scene-cut keyframes (only the forced ones start segments).
func newRendition(in *input, spec Output, rd *rendition, o Options) (*output, error) {
	spec.rend = rd
	w, err := newOutput(in, spec, nil, o)
	if err != nil {
		return nil, err
	}
	if w.enc.CodecID() != astiav.CodecIDH264 {
		w.close()
		return nil, errf(KindUsage, "%s: an HLS rendition is H.264 (got %s)", spec.URL, w.enc.CodecID().Name())
	}
	rd.w, rd.h = w.enc.Width(), w.enc.Height()
	rd.video = avcCodec(w.enc.ExtraData())
	for _, s := range w.sides {
		cp := s.ost.CodecParameters()
		if cp.MediaType() == astiav.MediaTypeAudio {
			rd.audio = append(rd.audio, audioCodec(cp))
		}
	}
	return w, nil
}

// rendition encoder and muxer options.
func (rd *rendition) encoderOptions(opts map[string]string) {
	opts["sc_threshold"] = "0"
	opts["forced-idr"] = "1"
}

func (rd *rendition) muxerOptions(d *astiav.Dictionary) {
	l := rd.l.spec
	flags := "+independent_segments+temp_file"
	if l.ListSize > 0 {
		flags += "+delete_segments"
	} else {
		d.Set("hls_playlist_type", "vod", astiav.NewDictionaryFlags())
	}
	for k, v := range map[string]string{
		"hls_time":             strconv.FormatFloat(rd.every.Seconds(), 'f', -1, 64),
		"hls_list_size":        strconv.Itoa(l.ListSize),
		"hls_flags":            flags,
		"hls_segment_filename": filepath.Join(rd.dir, segmentNameF),
	} {
		d.Set(k, v, astiav.NewDictionaryFlags())
	}
}

// keyframe reports whether the frame at pts (encoder time base tb) starts a segment: the first
// frame, then the first frame at or after each multiple of the segment length. Every rendition
// sees the same timestamps, so every rendition cuts at the same frames.
func (rd *rendition) keyframe(pts int64, tb astiav.Rational) bool {
	if rd.first == astiav.NoPtsValue {
		rd.first = pts
	}
	at := func(k int) int64 {
		return rd.first + astiav.RescaleQ(int64(k)*rd.every.Microseconds(), astiav.NewRational(1, 1e6), tb)
	}
	if pts < at(rd.next) {
		return false
	}
	for pts >= at(rd.next) {
		rd.next++
	}
	rd.forced, rd.encTB = append(rd.forced, pts), tb
	return true
}

// written records a video packet about to go to the muxer (timestamps in tb) and measures
// every segment the muxer has finished since.
func (rd *rendition) written(pkt *astiav.Packet, tb astiav.Rational) {
	sec := func(v int64) float64 { return float64(v) * tb.Float64() }
	rd.end = max(rd.end, sec(pkt.Pts()+pkt.Duration()))
	key := pkt.Flags().Has(astiav.PacketFlagKey)
	if key && rd.video == "" { // no global header: the SPS is in the stream
		rd.video = avcCodec(pkt.Data())
	}
	if !key || len(rd.forced) == 0 || astiav.RescaleQ(rd.forced[0], rd.encTB, tb) != pkt.Pts() {
		return
	}
	rd.forced = rd.forced[1:]
	rd.starts = append(rd.starts, sec(pkt.Pts()))
	rd.l.measure(rd, false)
}

// files are the rendition's playlist and segments on disk (temporary ones included).
func (rd *rendition) files() []string {
	segs, _ := filepath.Glob(filepath.Join(rd.dir, segmentGlob))
	tmps, _ := filepath.Glob(filepath.Join(rd.dir, segmentGlob+".tmp"))
	return append(append(segs, tmps...), filepath.Join(rd.dir, mediaName), filepath.Join(rd.dir, mediaName+".tmp"))
}

// measure records the sizes of the rendition's finished segments (the muxer renames a
// segment to its final name once complete) and updates the master playlist. final: the
// trailer is written, the last segment ends with the last packet.
func (l *ladder) measure(rd *rendition, final bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(rd.segs); i < len(rd.starts); i++ {
		end := rd.end
		if i+1 < len(rd.starts) {
			end = rd.starts[i+1]
		} else if !final {
			break
		}
		fi, err := os.Stat(filepath.Join(rd.dir, fmt.Sprintf(segmentNameF, i)))
		if err != nil {
			break // not finished yet
		}
		rd.segs = append(rd.segs, segInfo{dur: end - rd.starts[i], bytes: fi.Size()})
	}
	if final { // the durations players read (the muxer times a last segment by its frames' durations)
		listed := mediaDurations(filepath.Join(rd.dir, mediaName))
		for i := range rd.segs {
			if d, ok := listed[fmt.Sprintf(segmentNameF, i)]; ok {
				rd.segs[i].dur = d
			}
		}
	}
	if err := l.writeMaster(); err != nil {
		l.log.Warn("master playlist not updated", zap.Error(err))
	}
}

// mediaDurations reads a media playlist's segment durations (#EXTINF) by segment name.
func mediaDurations(path string) map[string]float64 {
	b, _ := regfile.Read(path, 16<<20) // the muxer's file, but in a directory users share
	durs := map[string]float64{}
	d := 0.0
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(l, "#EXTINF:"); ok {
			v, _, _ = strings.Cut(v, ",")
			d, _ = strconv.ParseFloat(v, 64)
		} else if l != "" && !strings.HasPrefix(l, "#") {
			durs[l] = d
		}
	}
	return durs
}

// bandwidth is a rendition's peak and average bit rate: the peak is the highest rate of any run
// of consecutive segments lasting 0.5 to 1.5 target durations (RFC 8216bis, 4.4.6.2), or of
// the whole stream when no run qualifies.
func bandwidth(segs []segInfo) (peak, avg float64) {
	var total, bytes, longest float64
	for _, s := range segs {
		total += s.dur
		bytes += float64(s.bytes)
		longest = max(longest, s.dur)
	}
	if total <= 0 {
		return 0, 0
	}
	avg = bytes * 8 / total
	target := max(math.Round(longest), 1)
	for i := range segs {
		var d, b float64
		for _, s := range segs[i:] {
			if d+s.dur > 1.5*target {
				break
			}
			d, b = d+s.dur, b+float64(s.bytes)
			if d >= 0.5*target {
				peak = max(peak, b*8/d)
			}
		}
	}
	if peak == 0 {
		peak = avg
	}
	return peak, avg
}

// writeMaster writes the master playlist (atomically: a temporary file renamed) once every
// rendition has a finished segment, and again whenever what it states changes. l.mu is held.
func (l *ladder) writeMaster() error {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, rd := range l.rends {
		if len(rd.segs) == 0 {
			return nil
		}
		peak, avg := bandwidth(rd.segs)
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,RESOLUTION=%dx%d,FRAME-RATE=%.3f",
			int64(math.Ceil(peak)), int64(math.Ceil(avg)), rd.w, rd.h, l.fps)
		if codecs := rd.codecs(); codecs != "" {
			fmt.Fprintf(&b, ",CODECS=\"%s\"", codecs)
		}
		fmt.Fprintf(&b, "\n%s/%s\n", rd.name, mediaName)
	}
	if b.String() == l.master {
		return nil
	}
	path := filepath.Join(l.spec.Dir, masterName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	l.master, l.written = b.String(), true
	return nil
}

// codecs is the CODECS attribute: the video's codec and each audio stream's, or "" when one
// is unknown (the attribute is then left out rather than wrong).
func (rd *rendition) codecs() string {
	list := append([]string{rd.video}, rd.audio...)
	for _, c := range list {
		if c == "" {
			return ""
		}
	}
	return strings.Join(list, ",")
}

// finish measures the last segments of every rendition and writes the final master playlist;
// Run calls it after every rendition's trailer.
func (l *ladder) finish() error {
	for _, rd := range l.rends {
		l.measure(rd, true)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.written {
		return errf(KindFailure, "hls:%s: no segment was written", l.spec.Dir)
	}
	l.kept = true
	return nil
}

// guard runs write, one step of a rendition's encoding and muxing, unless the ladder was
// discarded. discard waits for the steps under way, so no file appears after it returns.
func (l *ladder) guard(write func() error) error {
	l.io.RLock()
	defer l.io.RUnlock()
	if l.gone {
		return nil
	}
	return write()
}

// mkdir creates dir if missing, remembering it for discard.
func (l *ladder) mkdir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errf(KindFailure, "hls:%s: %v", l.spec.Dir, unwrapPath(err))
	}
	l.made = append(l.made, dir)
	return nil
}

// discard removes what the ladder wrote unless it was finished: the master playlist, each
// rendition's playlist and segments, and the directories this run created when left empty.
func (l *ladder) discard() {
	l.mu.Lock()
	kept := l.kept
	l.mu.Unlock()
	if kept {
		return
	}
	l.io.Lock() // not under mu: a rendition's step takes mu to measure its segments
	l.gone = true
	l.io.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	master := filepath.Join(l.spec.Dir, masterName)
	os.Remove(master)
	os.Remove(master + ".tmp")
	for _, rd := range l.rends {
		for _, f := range rd.files() {
			os.Remove(f)
		}
	}
	for i := len(l.made) - 1; i >= 0; i-- {
		os.Remove(l.made[i]) // only when empty
	}
}

// avcCodec is the RFC 6381 name of an H.264 stream ("avc1.PPCCLL": profile, constraint flags,
// level) from its SPS, found in avcC or Annex B extradata; "" without one.
func avcCodec(extra []byte) string {
	sps := func(p []byte) string {
		if len(p) < 4 {
			return ""
		}
		return fmt.Sprintf("avc1.%02x%02x%02x", p[1], p[2], p[3])
	}
	if len(extra) >= 4 && extra[0] == 1 { // avcC: version, profile, compatibility, level
		return fmt.Sprintf("avc1.%02x%02x%02x", extra[1], extra[2], extra[3])
	}
	for i := 0; i+3 < len(extra); i++ {
		if extra[i] == 0 && extra[i+1] == 0 && extra[i+2] == 1 && extra[i+3]&0x1f == 7 {
			return sps(extra[i+3:])
		}
	}
	return ""
}

// audioCodec is the RFC 6381 name of an audio stream in an MPEG-TS segment, "" when unknown.
func audioCodec(cp *astiav.CodecParameters) string {
	switch cp.CodecID() {
	case astiav.CodecIDAac:
		return "mp4a.40." + strconv.Itoa(int(max(cp.Profile(), 1))+1) // audio object type = profile + 1
	case astiav.CodecIDMp3:
		return "mp4a.40.34"
	case astiav.CodecIDMp2:
		return "mp4a.40.33"
	case astiav.CodecIDAc3:
		return "ac-3"
	case astiav.CodecIDEac3:
		return "ec-3"
	}
	return ""
}
