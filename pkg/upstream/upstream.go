// Package upstream holds what edgek needs to run any upstream program, on the control plane
// and on the node alike: its command line (edgek's defaults, overridden key by key by the
// user's --*-arg values) and the wait for its health endpoint. Neutral on purpose: node
// packages import it, never the control plane's.
package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/pki"
)

// Build returns "--key=value" arguments, sorted by key. A key the user gives in extra (as
// "key=value" or "--key=value") replaces edgek's default for that key; a key the user gives
// several times is passed several times, in the user's order (for repeatable flags).
func Build(defaults map[string]string, extra []string) []string {
	user := map[string][]string{}
	for _, e := range extra {
		k, v, _ := config.SplitExtraArg(e)
		user[k] = append(user[k], v)
	}
	keys := make([]string, 0, len(defaults)+len(user))
	for k := range defaults {
		keys = append(keys, k)
	}
	for k := range user {
		if _, ok := defaults[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if vs, ok := user[k]; ok {
			for _, v := range vs {
				out = append(out, "--"+k+"="+v)
			}
			continue
		}
		out = append(out, "--"+k+"="+defaults[k])
	}
	return out
}

// WaitHealthy polls url until it answers 200. With caFile the server is verified and the
// client presents cert; without, the server's self-signed certificate is accepted (local
// health endpoints carry no data). Plain http:// URLs work too.
func WaitHealthy(ctx context.Context, url, caFile string, cert *pki.CertPair) error {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		tlsConf.InsecureSkipVerify = true
	} else {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("read CA: %w", err)
		}
		tlsConf.RootCAs = x509.NewCertPool()
		tlsConf.RootCAs.AppendCertsFromPEM(pem)
	}
	if cert != nil {
		kp, err := tls.LoadX509KeyPair(cert.Cert, cert.Key)
		if err != nil {
			return fmt.Errorf("load client certificate: %w", err)
		}
		tlsConf.Certificates = []tls.Certificate{kp}
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}}
	defer client.CloseIdleConnections()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy (last answer: %s): %w", url, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
