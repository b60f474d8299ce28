package sso

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// MaxSealed is the longest sealed value Open reads: a cookie is at most
// about 4 KB, so anything longer is not one of ours.
const MaxSealed = 4096

// Box seals values with AES-256-GCM. Its key is derived with HKDF-SHA256
// from a secret and a purpose, so one secret gives unrelated keys for
// unrelated uses. Safe for concurrent use.
type Box struct{ aead cipher.AEAD }

// NewBox returns the box of secret for purpose (e.g. "admin session").
// Two boxes made from the same secret and purpose open each other's
// values; a different secret or purpose opens none of them.
func NewBox(secret []byte, purpose string) *Box {
	key, err := hkdf.Key(sha256.New, secret, nil, "llmbridge "+purpose, 32)
	if err != nil { // only for a length HKDF-SHA256 cannot give; 32 it can
		panic(err)
	}
	block, _ := aes.NewCipher(key) // a 32-byte key never fails
	aead, _ := cipher.NewGCM(block)
	return &Box{aead: aead}
}

// Seal encodes v as JSON and seals it for aad (what the value is bound
// to, such as the cookie's name), as URL-safe base64.
func (b *Box) Seal(v any, aad string) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plain, []byte(aad))), nil
}

// ErrSealed is any sealed value that does not open: too long, not
// base64, tampered with, sealed with another key or for another aad.
var ErrSealed = errors.New("the sealed value does not open")

// Open opens a value Seal made for the same aad into v.
func (b *Box) Open(sealed, aad string, v any) error {
	if len(sealed) > MaxSealed {
		return ErrSealed
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return ErrSealed
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil || json.Unmarshal(plain, v) != nil {
		return ErrSealed
	}
	return nil
}
