package liveconfig

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// MinSecretKey is the shortest LLMBRIDGE_SECRET_KEY accepted.
const MinSecretKey = 32

// KeyFileName is the key file's name in the data folder.
const KeyFileName = "secret.key"

// sealPrefix starts every sealed value (the format's version).
const sealPrefix = "v1:"

// Sealer encrypts the stored secrets with AES-256-GCM. Its key is the
// SHA-256 of LLMBRIDGE_SECRET_KEY when that is set, else 32 random bytes
// kept (hex) in a 0600 file it creates on first use. Every sealed value
// is bound to its item (additional data), so a value copied onto another
// item does not open. Safe for concurrent use.
type Sealer struct {
	env  string // LLMBRIDGE_SECRET_KEY; "" reads or creates path
	path string

	mu   sync.Mutex
	aead cipher.AEAD
}

// NewSealer returns the sealer of secretKey (LLMBRIDGE_SECRET_KEY) or,
// when that is empty, of the key file at keyFile. A non-empty secretKey
// shorter than MinSecretKey is refused.
func NewSealer(secretKey, keyFile string) (*Sealer, error) {
	if secretKey != "" && len(secretKey) < MinSecretKey {
		return nil, fmt.Errorf("LLMBRIDGE_SECRET_KEY must be at least %d characters (try: openssl rand -hex 32)", MinSecretKey)
	}
	return &Sealer{env: secretKey, path: keyFile}, nil
}

// Source names where the key comes from, for messages.
func (s *Sealer) Source() string {
	if s.env != "" {
		return "LLMBRIDGE_SECRET_KEY"
	}
	return s.path
}

// cipher returns the AEAD, reading or (create) creating the key file.
func (s *Sealer) cipher(create bool) (cipher.AEAD, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aead != nil {
		return s.aead, nil
	}
	var key [32]byte
	if s.env != "" {
		key = sha256.Sum256([]byte(s.env))
	} else {
		k, err := readOrCreateKey(s.path, create)
		if err != nil {
			return nil, err
		}
		key = k
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return s.aead, nil
}

// readOrCreateKey reads the key file, or creates it (0600, 32 random
// bytes in hex) when create is set and it does not exist.
func readOrCreateKey(path string, create bool) ([32]byte, error) {
	var key [32]byte
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return key, fmt.Errorf("secret key file: %w", err)
		}
		_, _ = rand.Read(key[:])
		// Written whole under a temporary name, then linked into place:
		// another process never reads a half-written file, and the
		// first one to link wins.
		tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
		if err != nil {
			return key, fmt.Errorf("secret key file: %w", err)
		}
		defer os.Remove(tmp.Name())
		_, err = tmp.WriteString(hex.EncodeToString(key[:]) + "\n")
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Link(tmp.Name(), path)
		}
		if err != nil {
			return readOrCreateKey(path, false) // another process made it first
		}
		return key, nil
	}
	if err != nil {
		return key, fmt.Errorf("secret key file (set LLMBRIDGE_SECRET_KEY, or restore the file from a backup): %w", err)
	}
	n, err := hex.Decode(key[:], []byte(strings.TrimSpace(string(b))))
	if err != nil || n != len(key) {
		return key, fmt.Errorf("secret key file %s: want 64 hex digits", path)
	}
	return key, nil
}

// Seal encrypts plain for the item named by aad; "" seals to "".
func (s *Sealer) Seal(plain, aad string) (string, error) {
	if plain == "" {
		return "", nil
	}
	a, err := s.cipher(true)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, a.NonceSize())
	_, _ = rand.Read(nonce)
	out := a.Seal(nonce, nonce, []byte(plain), []byte(aad))
	return sealPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal made for the same aad; "" opens to "".
func (s *Sealer) Open(sealed, aad string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, sealPrefix))
	if err != nil || !strings.HasPrefix(sealed, sealPrefix) {
		return "", errors.New("a stored secret is not in the sealed format")
	}
	a, err := s.cipher(false)
	if err != nil {
		return "", err
	}
	if len(raw) < a.NonceSize() {
		return "", errors.New("a stored secret is truncated")
	}
	plain, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte(aad))
	if err != nil {
		return "", fmt.Errorf("a stored secret does not open with the key of %s (was it sealed with another LLMBRIDGE_SECRET_KEY or key file?)", s.Source())
	}
	return string(plain), nil
}
