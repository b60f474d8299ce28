package configfile

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/joho/godotenv"
)

// Environ returns the .env file at envFile (missing: none) overlaid with
// environ ("KEY=value" entries, the real environment; nil: os.Environ()).
func Environ(envFile string, environ []string) (map[string]string, error) {
	m, err := godotenv.Read(envFile)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", envFile, err)
		}
		m = map[string]string{}
	}
	if environ == nil {
		environ = os.Environ()
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m, nil
}

// Trimmed is list with its entries trimmed and the empty ones dropped.
func Trimmed(list []string) []string {
	out := list[:0]
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// LogRoute says how a provider is reached, naming a proxy by host only.
func LogRoute(log *slog.Logger, name, proxy string) {
	if proxy == "" {
		log.Debug("provider connects directly", "provider", name)
		return
	}
	host := "(unparsable proxy URL)"
	if u, err := url.Parse(proxy); err == nil {
		host = u.Scheme + "://" + u.Host
	}
	log.Info("provider goes through proxy", "provider", name, "proxy", host)
}
