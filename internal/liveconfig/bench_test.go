package liveconfig

import (
	"fmt"
	"testing"
)

// BenchmarkChange is one admin change end to end on SQLite: read the
// stored layer, validate, seal, write in a transaction, read back and
// apply (the rig's Apply checks the layer as the file's code does).
func BenchmarkChange(b *testing.B) {
	dsn, keyFile := sqliteDSNB(b)
	r := newRig(b, dsn, keyFile)
	for i := range 20 {
		r.do(b, "POST", "/admin/api/providers", fmt.Sprintf(`{"name":"p%d","api_key":"sk-%032d","models":["m"]}`, i, i))
	}
	b.ResetTimer()
	for i := range b.N {
		if code, body := r.do(b, "PUT", "/admin/api/prices/p1/m", fmt.Sprintf(`{"input":%d,"output":1}`, i)); code != 200 {
			b.Fatal(code, body)
		}
	}
}

func sqliteDSNB(b *testing.B) (string, string) {
	dir := b.TempDir()
	return dir + "/u.db", dir + "/" + KeyFileName
}
