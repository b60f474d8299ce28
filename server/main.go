// Command server runs LLM Bridge as a standalone OpenAI-compatible gateway
// on 127.0.0.1:1219. It only reads configuration (environment, .env, the
// optional LLMBRIDGE_CONFIG YAML file) and wires the llmbridge library.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/joho/godotenv"
	"github.com/llmbridge/llmbridge"
	"github.com/lmittmann/tint"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "llmbridge:", err)
		os.Exit(1)
	}
}

// environ returns .env (if present in the working directory) overlaid with
// the real environment: real variables win.
func environ() (map[string]string, error) {
	m, err := godotenv.Read(".env")
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf(".env: %w", err)
		}
		m = map[string]string{}
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m, nil
}

func newLogger(level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("LLMBRIDGE_LOG_LEVEL: %w", err)
	}
	noColor := true
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		noColor = false
	}
	return slog.New(tint.NewTextHandler(os.Stderr, &tint.Options{Level: lvl, TimeFormat: time.DateTime, NoColor: noColor})), nil
}

func run() error {
	envs, err := environ()
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(envs)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	if cfg.Proxy != "" {
		log.Warn("LLMBRIDGE_PROXY is set but outbound proxies are not supported yet: every provider connects directly")
	}
	b, err := llmbridge.New(cfg.Options(log)...)
	if err != nil {
		return err
	}
	defer b.Close()
	if len(cfg.AccessKeys) == 0 {
		log.Warn("AUTHENTICATION IS OFF: ACCESS_API_KEYS is empty, so anyone who can reach " + cfg.Addr + " can use your provider keys. Serving on loopback only.")
	}
	if len(b.Models()) == 0 {
		log.Warn("no provider is configured: set OPENAI_API_KEY, GOOGLE_API_KEY, DEEPSEEK_API_KEY or LLMBRIDGE_CONFIG")
	}

	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           b,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("LLM Bridge listening", "addr", "http://"+cfg.Addr, "models", len(b.Models()))

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down; waiting up to 30s for requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("forced shutdown", "err", err)
		return srv.Close()
	}
	return nil
}
