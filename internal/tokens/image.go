package tokens

import (
	"encoding/base64"
	"image"
	_ "image/gif"  // registers GIF for DecodeConfig
	_ "image/jpeg" // registers JPEG
	_ "image/png"  // registers PNG
	"io"
	"strings"

	_ "golang.org/x/image/webp" // registers WebP
)

// maxHeaderBytes bounds how much of an image is decoded to find its size
// (JPEG's size marker can follow large EXIF blocks).
const maxHeaderBytes = 1 << 20

// ImageTokens returns the prompt tokens of one image part for model, by
// OpenAI's rule: detail "low" is a fixed cost; "high" and "auto" fit the
// image in 2048×2048, scale its shortest side down to 768, and cost per
// 512-px tile plus a base. gpt-4o-mini has its own constants. The size comes
// from a data URL's PNG/JPEG/GIF/WebP header without decoding pixels; for
// an http(s) URL (never fetched) or an unreadable header, 1024×1024 is
// assumed and ok is false.
func ImageTokens(model, url, detail string) (n int, ok bool) {
	base, tile, low := 85, 170, 85
	if m := strings.ToLower(model); strings.Contains(m, "gpt-4o-mini") {
		base, tile, low = 2833, 5667, 2833
	}
	if detail == "low" {
		return low, true
	}
	w, h, ok := DataURLSize(url)
	if !ok {
		w, h = 1024, 1024
	}
	return tiles(w, h)*tile + base, ok
}

func tiles(w, h int) int {
	fw, fh := float64(w), float64(h)
	if fw > 2048 || fh > 2048 {
		r := 2048 / max(fw, fh)
		fw, fh = fw*r, fh*r
	}
	if s := min(fw, fh); s > 768 {
		r := 768 / s
		fw, fh = fw*r, fh*r
	}
	return ceilDiv(fw, 512) * ceilDiv(fh, 512)
}

func ceilDiv(v, d float64) int {
	n := int(v / d)
	if float64(n)*d < v {
		n++
	}
	return max(n, 1)
}

// DataURLSize reads an image's width and height from a base64 data URL,
// decoding only its header.
func DataURLSize(url string) (w, h int, ok bool) {
	rest, found := strings.CutPrefix(url, "data:")
	if !found {
		return 0, 0, false
	}
	meta, payload, found := strings.Cut(rest, ",")
	if !found || !strings.HasSuffix(meta, ";base64") {
		return 0, 0, false
	}
	r := io.LimitReader(base64.NewDecoder(base64.StdEncoding, strings.NewReader(payload)), maxHeaderBytes)
	cfg, _, err := image.DecodeConfig(r)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}
