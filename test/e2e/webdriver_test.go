//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// dialContext opens a connection from inside the namespace: the socket is created by a thread
// that has joined it, so 127.0.0.1 is the namespace's loopback (where chromedriver and
// kubectl port-forward listen), never the host's.
func (n *netns) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, err
	}
	defer self.Close()
	target, err := os.Open(n.path)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("setns %s: %w", n.name, err)
	}
	// One literal address: the dial (socket and connect) stays on this thread.
	conn, derr := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, addr)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		panic(fmt.Sprintf("cannot return to the host network namespace: %v", err))
	}
	return conn, derr
}

// httpClient is an HTTP client whose connections are opened inside the namespace.
func (n *netns) httpClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:             nil, // never a host proxy from the environment
			DialContext:       n.dialContext,
			DisableKeepAlives: true,
		},
	}
}

// webElementKey names an element reference in W3C WebDriver answers.
const webElementKey = "element-6066-11e4-a52e-4f735466cecf"

// webDriver is a minimal W3C WebDriver client for one session.
type webDriver struct {
	t       *testing.T
	client  *http.Client
	base    string // http://127.0.0.1:9515
	session string
}

// webDriverError is an error answer of the remote end ("no such element", ...).
type webDriverError struct {
	Status  int
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *webDriverError) Error() string {
	msg, _, _ := strings.Cut(e.Message, "\n")
	return fmt.Sprintf("webdriver %d %s: %s", e.Status, e.Code, msg)
}

// call sends one command and returns the answer's "value".
func (wd *webDriver) call(method, path string, body any) (json.RawMessage, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, wd.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := wd.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	var answer struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, fmt.Errorf("%s %s: %s: bad answer %q", method, path, resp.Status, data)
	}
	if resp.StatusCode != http.StatusOK {
		e := &webDriverError{Status: resp.StatusCode}
		json.Unmarshal(answer.Value, e)
		return nil, e
	}
	return answer.Value, nil
}

// sessionCall is call for a command of the current session; it fails the test on error.
func (wd *webDriver) sessionCall(method, path string, body any) json.RawMessage {
	wd.t.Helper()
	v, err := wd.call(method, "/session/"+wd.session+path, body)
	if err != nil {
		wd.t.Fatal(err)
	}
	return v
}

// newWebDriver opens a session of a headless chromium (no network of its own: no sync,
// updates, extensions, QUIC or background requests).
func newWebDriver(t *testing.T, client *http.Client, base, profileDir string) (*webDriver, error) {
	wd := &webDriver{t: t, client: client, base: base}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":      "chrome",
		"pageLoadStrategy": "normal",
		"timeouts":         map[string]int{"pageLoad": 60000, "script": 30000, "implicit": 0},
		"goog:chromeOptions": map[string]any{
			"binary": "/usr/bin/chromium",
			"args": []string{
				"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
				"--disable-quic", "--no-first-run", "--disable-background-networking",
				"--disable-component-update", "--disable-sync", "--disable-default-apps",
				"--disable-extensions", "--user-data-dir=" + profileDir, "--window-size=1280,900",
			},
		},
	}}}
	v, err := wd.call("POST", "/session", caps)
	if err != nil {
		return nil, err
	}
	var s struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(v, &s); err != nil || s.SessionID == "" {
		return nil, fmt.Errorf("new session: no session id in %s", v)
	}
	wd.session = s.SessionID
	return wd, nil
}

// quit deletes the session, which ends the browser.
func (wd *webDriver) quit() error {
	if wd.session == "" {
		return nil
	}
	_, err := wd.call("DELETE", "/session/"+wd.session, nil)
	wd.session = ""
	return err
}

func (wd *webDriver) navigate(url string) {
	wd.t.Helper()
	wd.sessionCall("POST", "/url", map[string]string{"url": url})
}

// currentURL is the page's URL (for messages: "?" when it cannot be had).
func (wd *webDriver) currentURL() string {
	v, err := wd.call("GET", "/session/"+wd.session+"/url", nil)
	var u string
	if err != nil || json.Unmarshal(v, &u) != nil {
		return "?"
	}
	return u
}

// tryFind returns the first element matching a CSS selector.
func (wd *webDriver) tryFind(css string) (string, error) {
	v, err := wd.call("POST", "/session/"+wd.session+"/element", map[string]string{"using": "css selector", "value": css})
	if err != nil {
		return "", err
	}
	var ref map[string]string
	if err := json.Unmarshal(v, &ref); err != nil || ref[webElementKey] == "" {
		return "", fmt.Errorf("find %s: no element reference in %s", css, v)
	}
	return ref[webElementKey], nil
}

// find returns the first element matching a CSS selector, or fails the test.
func (wd *webDriver) find(css string) string {
	wd.t.Helper()
	el, err := wd.tryFind(css)
	if err != nil {
		wd.t.Fatalf("find %s on %s: %v", css, wd.currentURL(), err)
	}
	return el
}

// findAll returns every element matching a CSS selector (none is not an error).
func (wd *webDriver) findAll(css string) []string {
	wd.t.Helper()
	var refs []map[string]string
	json.Unmarshal(wd.sessionCall("POST", "/elements", map[string]string{"using": "css selector", "value": css}), &refs)
	var els []string
	for _, r := range refs {
		els = append(els, r[webElementKey])
	}
	return els
}

// waitFor polls for an element matching css (pages are server-rendered, so this mostly
// covers the navigation a click started).
func (wd *webDriver) waitFor(css string, timeout time.Duration) string {
	wd.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		el, err := wd.tryFind(css)
		if err == nil {
			return el
		}
		if time.Now().After(deadline) {
			wd.t.Fatalf("no %s on %s after %s: %v", css, wd.currentURL(), timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (wd *webDriver) clear(el string) {
	wd.t.Helper()
	wd.sessionCall("POST", "/element/"+el+"/clear", map[string]any{})
}

func (wd *webDriver) sendKeys(el, text string) {
	wd.t.Helper()
	wd.sessionCall("POST", "/element/"+el+"/value", map[string]string{"text": text})
}

func (wd *webDriver) click(el string) {
	wd.t.Helper()
	wd.sessionCall("POST", "/element/"+el+"/click", map[string]any{})
}

func (wd *webDriver) text(el string) string {
	wd.t.Helper()
	var s string
	json.Unmarshal(wd.sessionCall("GET", "/element/"+el+"/text", nil), &s)
	return s
}

func (wd *webDriver) attr(el, name string) string {
	wd.t.Helper()
	var s string
	json.Unmarshal(wd.sessionCall("GET", "/element/"+el+"/attribute/"+name, nil), &s)
	return s
}

// execute runs a synchronous script in the page and returns its JSON result.
func (wd *webDriver) execute(script string, args ...any) json.RawMessage {
	wd.t.Helper()
	if args == nil {
		args = []any{}
	}
	return wd.sessionCall("POST", "/execute/sync", map[string]any{"script": script, "args": args})
}

// screenshotTo saves the viewport as a PNG.
func (wd *webDriver) screenshotTo(path string) error {
	v, err := wd.call("GET", "/session/"+wd.session+"/screenshot", nil)
	if err != nil {
		return err
	}
	var b64 string
	if err := json.Unmarshal(v, &b64); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

func (wd *webDriver) source() (string, error) {
	v, err := wd.call("GET", "/session/"+wd.session+"/source", nil)
	if err != nil {
		return "", err
	}
	var s string
	err = json.Unmarshal(v, &s)
	return s, err
}
