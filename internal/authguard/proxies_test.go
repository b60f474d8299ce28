package authguard

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies([]string{" 10.0.0.0/8", "", "192.0.2.7", "::ffff:192.0.2.9", "10.1.2.3/16", "proxy.local", "300.1.1.1"})
	if err == nil || !strings.Contains(err.Error(), `"proxy.local"`) || !strings.Contains(err.Error(), `"300.1.1.1"`) {
		t.Errorf("error %v", err)
	}
	if s := fmt.Sprint(got); s != "[10.0.0.0/8 192.0.2.7/32 192.0.2.9/32 10.1.0.0/16]" {
		t.Errorf("prefixes %s", s)
	}
}
