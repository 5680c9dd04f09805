package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

const (
	// maxListBytes bounds a list response read into memory.
	maxListBytes = 64 << 20
	// maxErrorBytes bounds an error body read for its message.
	maxErrorBytes = 64 << 10
)

// apiClient talks to the apiserver. It has no credentials of its own: every call names the
// bearer token to send (see kube).
type apiClient struct {
	base *url.URL
	hc   *http.Client
}

// newAPIClient returns a client for the apiserver at base, trusting the CAs in caFile (the
// system roots when caFile is empty).
func newAPIClient(base, caFile string) (*apiClient, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil {
		return nil, fmt.Errorf("apiserver URL: %w", err)
	}
	tr := &http.Transport{
		Proxy:               nil, // the apiserver is reached directly, whatever HTTPS_PROXY says
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("apiserver CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("apiserver CA %s: no PEM certificate", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &apiClient{base: u, hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}, nil
}

// apiError is an answer from the apiserver other than 2xx, with the message of its Status.
type apiError struct {
	Code    int
	Reason  string // e.g. "Forbidden", "NotFound"
	Message string
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("apiserver: %d %s", e.Code, http.StatusText(e.Code))
	}
	return "apiserver: " + e.Message
}

// kube is the apiserver as one user sees it: every request carries their bearer token.
type kube struct {
	c     *apiClient
	token string
}

// do sends a request and returns the response when its status is 2xx, else an *apiError
// (the body then closed). The caller closes a returned body.
func (k kube) do(ctx context.Context, method, path string, q url.Values, body []byte, contentType string) (*http.Response, error) {
	u := *k.c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "edgek-dashboard/"+version)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := k.c.hc.Do(req)
	if err != nil {
		// The URL holds no secret; the token is in a header and never printed.
		return nil, fmt.Errorf("reach apiserver: %w", err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, readAPIError(resp)
}

// readAPIError turns a non-2xx answer into an *apiError, using the Status object's message
// when there is one.
func readAPIError(resp *http.Response) *apiError {
	e := &apiError{Code: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var st struct {
		Kind, Message, Reason string
	}
	if json.Unmarshal(b, &st) == nil && st.Kind == "Status" {
		e.Message, e.Reason = st.Message, st.Reason
	} else {
		e.Message = strings.TrimSpace(string(b))
		if len(e.Message) > 300 {
			e.Message = e.Message[:300] + "…"
		}
	}
	if e.Reason == "" {
		e.Reason = strings.ReplaceAll(http.StatusText(e.Code), " ", "")
	}
	return e
}

// get decodes the JSON answer of a GET into out.
func (k kube) get(ctx context.Context, path string, q url.Values, out any) error {
	resp, err := k.do(ctx, http.MethodGet, path, q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxListBytes)).Decode(out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// text returns the answer of a GET as text, at most max bytes of it.
func (k kube) text(ctx context.Context, path string, q url.Values, max int64) (string, error) {
	resp, err := k.do(ctx, http.MethodGet, path, q, nil, "")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, max))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return string(b), nil
}

// send sends in as JSON with method and content type, and decodes the answer into out (when
// out is not nil).
func (k kube) send(ctx context.Context, method, path, contentType string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := k.do(ctx, method, path, nil, b, contentType)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxListBytes))
		return err
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxListBytes)).Decode(out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// mergePatch sends a JSON merge patch.
func (k kube) mergePatch(ctx context.Context, path string, patch any) error {
	return k.send(ctx, http.MethodPatch, path, "application/merge-patch+json", patch, nil)
}

// whoAmI asks the apiserver who the token belongs to (a SelfSubjectReview, allowed to every
// authenticated user).
func (k kube) whoAmI(ctx context.Context) (userInfo, error) {
	in := map[string]string{"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
	var out struct {
		Status struct{ UserInfo userInfo }
	}
	err := k.send(ctx, http.MethodPost, "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json", in, &out)
	return out.Status.UserInfo, err
}

// apiCode is the HTTP status of an *apiError in err's chain, or 0.
func apiCode(err error) int {
	if e, ok := errors.AsType[*apiError](err); ok {
		return e.Code
	}
	return 0
}
