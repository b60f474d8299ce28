package authguard

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ParseTrustedProxies reads LLMBRIDGE_TRUSTED_PROXIES' entries — IP
// addresses or CIDR prefixes, blanks skipped — into masked prefixes (an
// address is a prefix of its full length, IPv4-mapped IPv6 unmapped),
// reporting every entry that is neither.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range list {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("LLMBRIDGE_TRUSTED_PROXIES: %q is neither an IP address nor a CIDR prefix", s))
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, errors.Join(errs...)
}
