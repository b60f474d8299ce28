package testupstream

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is an outbound proxy on loopback that counts the connections it
// carries and remembers the destinations clients asked for.
type Proxy struct {
	Addr string // host:port
	ln   net.Listener

	conns atomic.Int64
	mu    sync.Mutex
	dests []string
	wg    sync.WaitGroup
}

// Conns returns how many tunnels (CONNECT, SOCKS) and forwarded requests
// the proxy has carried.
func (p *Proxy) Conns() int64 { return p.conns.Load() }

// Dests returns the destinations clients asked for, as sent (a name for
// socks5h, an address for socks5).
func (p *Proxy) Dests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.dests...)
}

func (p *Proxy) close() {
	p.ln.Close()
	p.wg.Wait()
}

// DeadAddr returns a loopback address where nothing listens. It uses
// 127.0.0.2, where no httptest server (always 127.0.0.1) can later take
// the freed port.
func DeadAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// StartSilent starts a listener that accepts connections and never says a
// word: a hung proxy or upstream.
func StartSilent(t testing.TB) *Proxy {
	p := listen(t)
	p.serve(func(c net.Conn) {
		p.conns.Add(1)
		_, _ = io.Copy(io.Discard, c) // until the client gives up
	})
	return p
}

func listen(t testing.TB) *Proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln}
	t.Cleanup(p.close)
	return p
}

func (p *Proxy) serve(handle func(net.Conn)) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := p.ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// tunnel connects to dest and copies both ways until either side closes.
func (p *Proxy) tunnel(client net.Conn, br *bufio.Reader, dest string) bool {
	up, err := net.Dial("tcp", dest)
	if err != nil {
		return false
	}
	p.conns.Add(1)
	go func() {
		_, _ = io.Copy(up, br)
		up.Close()
	}()
	_, _ = io.Copy(client, up)
	up.Close()
	return true
}

// StartSOCKS5 starts a SOCKS5 proxy (RFC 1928, CONNECT only). With a user
// it requires username/password authentication (RFC 1929).
func StartSOCKS5(t testing.TB, user, pass string) *Proxy {
	p := listen(t)
	p.serve(func(c net.Conn) {
		br := bufio.NewReader(c)
		var hdr [2]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil || hdr[0] != 5 {
			return
		}
		methods := make([]byte, hdr[1])
		io.ReadFull(br, methods)
		if user == "" {
			c.Write([]byte{5, 0})
		} else {
			c.Write([]byte{5, 2})
			var v [2]byte
			io.ReadFull(br, v[:])
			u := make([]byte, v[1])
			io.ReadFull(br, u)
			var pl [1]byte
			io.ReadFull(br, pl[:])
			pw := make([]byte, pl[0])
			io.ReadFull(br, pw)
			if string(u) != user || string(pw) != pass {
				c.Write([]byte{1, 1})
				return
			}
			c.Write([]byte{1, 0})
		}
		var req [4]byte
		if _, err := io.ReadFull(br, req[:]); err != nil || req[1] != 1 {
			return
		}
		var host string
		switch req[3] {
		case 1:
			ip := make([]byte, 4)
			io.ReadFull(br, ip)
			host = net.IP(ip).String()
		case 4:
			ip := make([]byte, 16)
			io.ReadFull(br, ip)
			host = net.IP(ip).String()
		case 3:
			var l [1]byte
			io.ReadFull(br, l[:])
			name := make([]byte, l[0])
			io.ReadFull(br, name)
			host = string(name)
		}
		var port [2]byte
		io.ReadFull(br, port[:])
		dest := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:]))))
		p.mu.Lock()
		p.dests = append(p.dests, dest)
		p.mu.Unlock()
		target := dest
		if h, port, _ := net.SplitHostPort(dest); h == "localhost" || h == "::1" {
			target = net.JoinHostPort("127.0.0.1", port)
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		up.Close()
		c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
		p.tunnel(c, br, target)
	})
	return p
}

// StartHTTPProxy starts an HTTP proxy that tunnels CONNECT requests and
// forwards absolute-form requests (what Go sends for http:// targets).
// With a user it requires Proxy-Authorization basic credentials.
func StartHTTPProxy(t testing.TB, user, pass string) *Proxy {
	p := listen(t)
	p.serve(func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if user != "" {
				r2 := &http.Request{Header: http.Header{"Authorization": req.Header["Proxy-Authorization"]}}
				if u, pw, ok := r2.BasicAuth(); !ok || u != user || pw != pass {
					io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
					return
				}
			}
			p.mu.Lock()
			p.dests = append(p.dests, req.Host)
			p.mu.Unlock()
			if req.Method == http.MethodConnect {
				io.WriteString(c, "HTTP/1.1 200 Connection Established\r\n\r\n")
				p.tunnel(c, br, req.Host)
				return
			}
			p.conns.Add(1)
			req.RequestURI = ""
			req.Header.Del("Proxy-Authorization")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
				return
			}
			err = resp.Write(c)
			resp.Body.Close()
			if err != nil {
				return
			}
		}
	})
	return p
}
