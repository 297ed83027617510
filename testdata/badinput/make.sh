#!/bin/sh
# Regenerates every file in testdata/badinput/ (see README.md there).
# Run from the repository root:   sh testdata/badinput/make.sh
# Needs: ffmpeg/ffprobe 5.1 (Debian 12) with libx264, python3 (only for huge.mkv), dd, wc.
# Inputs: ffmpeg lavfi sources and testdata/sample.mp4. Output is deterministic for a given
# ffmpeg/x264 build (bitexact flags, no metadata, no CRC-32 elements in Matroska).
set -eu

D=testdata/badinput
S=testdata/sample.mp4
[ -f "$S" ] || { echo "make.sh: run from the repo root ($S not found)" >&2; exit 1; }

FF="ffmpeg -nostdin -hide_banner -loglevel error -y"
BE="-fflags +bitexact -flags +bitexact -map_metadata -1"
# Small synthetic video/audio sources.
V64="testsrc2=size=64x48:rate=24"
SINE="sine=frequency=440:sample_rate=44100"
TMP="$D/.tmp.$$"
trap 'rm -f "$TMP".*' EXIT INT TERM

# keep_head FILE PERCENT OUT: copy the first PERCENT % of FILE's bytes to OUT.
keep_head() {
	n=$(wc -c < "$1")
	dd if="$1" of="$3" bs=1 count=$((n * $2 / 100)) 2>/dev/null
}

# 1. zero-byte file
: > "$D/empty.mp4"

# 2. truncated.mp4: sample remuxed WITHOUT faststart (moov at the end), first 40 % kept -> no moov.
$FF -i "$S" -map 0 -c copy $BE "$TMP.nofs.mp4"
keep_head "$TMP.nofs.mp4" 40 "$D/truncated.mp4"

# 3. truncated_data.mp4: sample as committed (faststart: moov first), first 60 % kept ->
#    headers parse, mdat ends early; the frames before the cut still decode.
keep_head "$S" 60 "$D/truncated_data.mp4"

# 4. text file with a video extension
printf 'This is not a video.\nJust plain text with an .mp4 extension.\n' > "$D/text.mp4"

# 5. audio only (AAC copied from the sample), as .m4a and as .mp4
$FF -i "$S" -map 0:a -c copy $BE "$D/audio_only.m4a"
$FF -i "$S" -map 0:a -c copy $BE "$D/audio_only.mp4"

# 6. unknown_codec.mkv: a valid H.264 mkv whose CodecID "V_MPEG4/ISO/AVC" is overwritten in
#    place with "V_MPEGI/ISO/VVC" (H.266, same length, so every EBML size stays valid).
#    ffmpeg 5.1 has no codec id for it: the stream probes as codec "none" and cannot be decoded.
$FF -f lavfi -i "$V64" -frames:v 12 -c:v libx264 -pix_fmt yuv420p -write_crc32 0 $BE "$TMP.h264.mkv"
off=$(LC_ALL=C grep -obUa 'V_MPEG4/ISO/AVC' "$TMP.h264.mkv" | head -n 1 | cut -d: -f1)
[ -n "$off" ] || { echo "make.sh: CodecID not found" >&2; exit 1; }
printf 'V_MPEGI/ISO/VVC' | dd of="$TMP.h264.mkv" bs=1 seek="$off" conv=notrunc 2>/dev/null
mv "$TMP.h264.mkv" "$D/unknown_codec.mkv"

# 7. 10-bit H.264 (High 10), 64x48, 12 frames
$FF -f lavfi -i "$V64" -frames:v 12 -c:v libx264 -pix_fmt yuv420p10le $BE "$D/tenbit.mkv"

# 8. 4:4:4 H.264 (High 4:4:4 Predictive), 64x48, 12 frames
$FF -f lavfi -i "$V64" -frames:v 12 -c:v libx264 -pix_fmt yuv444p $BE "$D/yuv444.mp4"

# 9. odd dimensions 33x17, FFV1 yuv444p in mkv, 12 frames (testsrc: testsrc2 rounds odd sizes down)
$FF -f lavfi -i "testsrc=size=33x17:rate=24" -frames:v 12 -c:v ffv1 -pix_fmt yuv444p \
	-write_crc32 0 $BE "$D/odd.mkv"

# 10. huge.mkv: one 20000x20000 1-bit black PNG frame (~48 KB deflated) in Matroska
#     (V_MS/VFW/FOURCC 'MPNG', the same mapping ffmpeg's own muxer uses for PNG).
#     ffmpeg refuses to create (or decode) pictures this large (av_image_check_size:
#     (w+128)*(h+128) must be < INT_MAX/8), so the PNG and the mkv are written by python3.
python3 - "$D/huge.mkv" <<'EOF'
import struct, sys, zlib
W = H = 20000
def chunk(t, d):
    return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
row = b'\x00' * (1 + (W + 7) // 8)            # filter byte 0 + one black 1-bit row
z = zlib.compressobj(9)
idat = b''.join(z.compress(row) for _ in range(H)) + z.flush()
png = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', W, H, 1, 0, 0, 0, 0))
       + chunk(b'IDAT', idat) + chunk(b'IEND', b''))
def el(i, d):                                  # EBML element, 8-byte size field
    return i + b'\x01' + len(d).to_bytes(7, 'big') + d
def u(i, v, n=4):
    return el(i, v.to_bytes(n, 'big'))
ebml = el(b'\x1a\x45\xdf\xa3', u(b'\x42\x86', 1, 1) + u(b'\x42\xf7', 1, 1) + u(b'\x42\xf2', 4, 1)
          + u(b'\x42\xf3', 8, 1) + el(b'\x42\x82', b'matroska') + u(b'\x42\x87', 4, 1)
          + u(b'\x42\x85', 2, 1))
info = el(b'\x15\x49\xa9\x66', u(b'\x2a\xd7\xb1', 1000000) + el(b'\x44\x89', struct.pack('>d', 1000.0))
          + el(b'\x4d\x80', b'hitsr make.sh') + el(b'\x57\x41', b'hitsr make.sh'))
bih = struct.pack('<IiiHH4sIiiII', 40, W, H, 1, 24, b'MPNG', 0, 0, 0, 0, 0)  # BITMAPINFOHEADER
track = el(b'\xae', u(b'\xd7', 1, 1) + u(b'\x73\xc5', 1, 8) + u(b'\x83', 1, 1) + u(b'\x9c', 0, 1)
           + el(b'\x86', b'V_MS/VFW/FOURCC') + el(b'\x63\xa2', bih)
           + el(b'\xe0', u(b'\xb0', W) + u(b'\xba', H)))
block = b'\x81\x00\x00\x80' + png              # track 1, relative timecode 0, keyframe
cluster = el(b'\x1f\x43\xb6\x75', u(b'\xe7', 0, 1) + el(b'\xa3', block))
with open(sys.argv[1], 'wb') as f:
    f.write(ebml + el(b'\x18\x53\x80\x67', info + el(b'\x16\x54\xae\x6b', track) + cluster))
EOF

# 11. variable frame rate: 30 frames, 64x48 H.264 in mkv; frames 0-9 at 30 fps, 10-19 at
#     10 fps, 20-29 at 60 fps (mkv timestamps are in ms, so 1/60 s rounds to 16/17 ms).
$FF -f lavfi -i "testsrc2=size=64x48:rate=30" -frames:v 30 \
	-vf "settb=1/1000,setpts='if(lt(N,10), N/30, if(lt(N,20), 1/3+(N-10)/10, 4/3+(N-20)/60))/TB'" \
	-fps_mode passthrough -enc_time_base 1/1000 -c:v libx264 -pix_fmt yuv420p -write_crc32 0 $BE "$D/vfr.mkv"
ffprobe -v error -select_streams v:0 -show_entries frame=pts_time -of csv=p=0 "$D/vfr.mkv" |
	sed -n 's/^\([0-9][0-9.]*\).*/\1/p' > "$D/vfr.pts.txt"

# 12. video + audio + SRT subtitle stream, 64x48, 24 frames (1 s)
printf '1\n00:00:00,000 --> 00:00:00,500\nFirst subtitle\n\n2\n00:00:00,500 --> 00:00:01,000\nSecond subtitle\n' \
	> "$TMP.srt"
# (Durations come from the sources: -frames:v 24 would end the whole output after the 24th
#  video frame, before the audio and subtitle packets are muxed.)
$FF -f lavfi -i "$V64:duration=1" -f lavfi -i "$SINE:duration=1" -i "$TMP.srt" \
	-map 0:v -map 1:a -map 2:s -c:v libx264 -pix_fmt yuv420p -c:a aac -b:a 64k -ac 2 -c:s srt \
	-write_crc32 0 $BE "$D/subs.mkv"

# 13. YAML configs: syntactically invalid, and valid YAML with a wrongly typed value
cat > "$D/bad.yaml" <<'EOF'
# Syntactically invalid YAML: the flow sequence is never closed.
outputs: [2x.mp4, 4x.mp4
crf: 20
EOF
cat > "$D/badvalue.yaml" <<'EOF'
# Valid YAML, invalid value: crf must be an integer.
crf: "abc"
outputs:
  - path: 2x.mp4
EOF

# 14. a PNG image with an .mp4 name
$FF -f lavfi -i "$V64" -frames:v 1 -c:v png -update 1 -f image2 $BE "$D/png.mp4"

# 15. a stream that grows past the size limit: 12 frames 64x48, then one 8208x8208 (67 Mpx) frame
$FF -f lavfi -i "$V64" -frames:v 12 -c:v libx264 -preset ultrafast -pix_fmt yuv420p $BE -f mpegts "$TMP.a.ts"
$FF -f lavfi -i "color=black:size=8208x8208:rate=24" -frames:v 1 -c:v libx264 -crf 51 -pix_fmt yuv420p \
	-output_ts_offset 1 $BE -f mpegts "$TMP.b.ts"
cat "$TMP.a.ts" "$TMP.b.ts" > "$D/grows.ts"
rm -f "$TMP.a.ts" "$TMP.b.ts"

echo "make.sh: wrote $(ls "$D" | wc -l) entries in $D"
