//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// dashboardURL is where `kubectl port-forward` serves the dashboard, inside the namespace.
	dashboardURL = "http://127.0.0.1:9090/"
	// chromedriverURL is where chromedriver listens, inside the namespace.
	chromedriverURL = "http://127.0.0.1:9515"
)

// TestDashboardBrowser drives the bundled dashboard with a real browser (headless chromium
// through chromedriver, both inside the test's namespace, the dashboard reached through
// kubectl port-forward): sign in with a ServiceAccount token, see the node, find and scale a
// Deployment, read a pod's log, and check that a token without rights gets 403s. Screenshots
// go to the artifacts dir.
func TestDashboardBrowser(t *testing.T) {
	for _, bin := range []string{"chromedriver", "/usr/bin/chromium"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s: %v (scripts/ci-deps.sh installs Debian's chromium and chromium-driver)", bin, err)
		}
	}
	for _, stale := range []string{"dashboard-failure.png", "dashboard-failure.html"} {
		os.Remove(filepath.Join(artifactsDir, stale))
	}
	ns := newNetns(t)
	s := newServer(t, ns)
	s.start()
	s.mustKubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=120s")
	eventually(t, 180*time.Second, "dashboard pod Ready", func() error {
		_, err := s.kubectl("wait", "-n", "edgek-dashboard", "--for=condition=Ready", "pod", "-l", "app.kubernetes.io/name=edgek-dashboard", "--timeout=5s")
		return err
	})
	webBin := buildWebserver(t)
	dropImage(t, filepath.Join(s.dataDir, "agent", "images"), webBin)
	s.mustApply(webManifest)
	pods := waitWebPods(t, s, 2)

	// An admin and a ServiceAccount with no rights at all.
	const adminUser = "system:serviceaccount:edgek-dashboard:e2e-admin"
	const nobodyUser = "system:serviceaccount:edgek-dashboard:e2e-nobody"
	s.mustKubectl("-n", "edgek-dashboard", "create", "serviceaccount", "e2e-admin")
	s.mustKubectl("create", "clusterrolebinding", "e2e-admin", "--clusterrole=cluster-admin", "--serviceaccount=edgek-dashboard:e2e-admin")
	adminToken := strings.TrimSpace(s.mustKubectl("-n", "edgek-dashboard", "create", "token", "e2e-admin"))
	s.mustKubectl("-n", "edgek-dashboard", "create", "serviceaccount", "e2e-nobody")
	nobodyToken := strings.TrimSpace(s.mustKubectl("-n", "edgek-dashboard", "create", "token", "e2e-nobody"))

	// Everything below talks to 127.0.0.1 inside the namespace.
	client := ns.httpClient(120 * time.Second)
	// SIGINT: `edgek kubectl` swallows a first SIGTERM (edgek's own signal handler), while
	// kubectl port-forward stops on an interrupt.
	pfLog := startLogged(t, "port-forward", syscall.SIGINT, ns.command(edgekBin, "kubectl", "--kubeconfig", s.kubeconfig(),
		"-n", "edgek-dashboard", "port-forward", "svc/dashboard", "9090:80"))
	probe := ns.httpClient(5 * time.Second)
	eventually(t, 60*time.Second, "dashboard /healthz through kubectl port-forward", func() error {
		body, err := httpGet(probe, dashboardURL+"healthz")
		if err != nil || strings.TrimSpace(body) != "ok" {
			return fmt.Errorf("%q, %v (port-forward log: %s)", body, err, readFile(t, pfLog))
		}
		return nil
	})
	cdLog := startLogged(t, "chromedriver", syscall.SIGTERM, ns.command("chromedriver", "--port=9515"))
	eventually(t, 30*time.Second, "chromedriver ready", func() error {
		body, err := httpGet(probe, chromedriverURL+"/status")
		if err != nil || !strings.Contains(body, `"ready":true`) {
			return fmt.Errorf("%q, %v (chromedriver log: %s)", body, err, readFile(t, cdLog))
		}
		return nil
	})
	wd, err := newWebDriver(t, client, chromedriverURL, t.TempDir())
	if err != nil {
		t.Fatalf("new WebDriver session: %v (chromedriver log: %s)", err, readFile(t, cdLog))
	}
	// Cleanups run last-in first-out: the failure dump, then the session, then chromedriver.
	t.Cleanup(func() {
		if err := wd.quit(); err != nil {
			t.Errorf("delete WebDriver session: %v", err)
		}
	})
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		t.Logf("browser was at %s", wd.currentURL())
		if err := wd.screenshotTo(filepath.Join(artifactsDir, "dashboard-failure.png")); err != nil {
			t.Logf("failure screenshot: %v", err)
		}
		if src, err := wd.source(); err != nil {
			t.Logf("failure page source: %v", err)
		} else {
			os.WriteFile(filepath.Join(artifactsDir, "dashboard-failure.html"), []byte(src), 0o644)
		}
	})
	shot := func(name string) {
		t.Helper()
		path := filepath.Join(artifactsDir, "dashboard-"+name+".png")
		if err := wd.screenshotTo(path); err != nil {
			t.Errorf("screenshot %s: %v", path, err)
			return
		}
		t.Logf("screenshot %s", path)
	}

	// Not signed in: the login page.
	wd.navigate(dashboardURL)
	wd.waitFor("#login-token", 30*time.Second)
	if u := wd.currentURL(); !strings.Contains(u, "/login") {
		t.Errorf("without a session %s went to %s, want the login page", dashboardURL, u)
	}
	// The very first load, by a browser with an empty cache: the login page.
	logNavTiming(t, wd, "dashboard first page load (login page, cold browser)")
	shot("login")
	login(t, wd, adminToken, adminUser)

	// The first page after sign-in (the overview, with the cluster's data), as the browser
	// timed it.
	wd.navigate(dashboardURL)
	wd.waitFor("#current-user", 30*time.Second)
	logNavTiming(t, wd, "dashboard overview load after sign-in")

	// Overview: the node, Ready.
	node := wd.waitFor(`[data-testid=node-row]`, 10*time.Second)
	if ready := wd.attr(node, "data-ready"); ready != "true" {
		t.Errorf("node row %s: data-ready = %q", wd.attr(node, "data-name"), ready)
	}
	if st := wd.text(wd.find(`[data-testid=node-row] [data-testid=node-status]`)); st != "Ready" {
		t.Errorf("node status %q, want Ready", st)
	}
	shot("overview")

	// Workloads: the web Deployment, 2/2.
	wd.click(wd.find(`[data-testid=nav-workloads]`))
	wd.waitFor(`[data-testid=deployment-row][data-name="web"][data-namespace="default"]`, 30*time.Second)
	if ready := wd.text(wd.find(`[data-testid=deployment-row][data-name="web"] [data-testid=ready]`)); ready != "2/2" {
		t.Errorf("deployment web ready %q, want 2/2", ready)
	}
	shot("workloads")

	// Its detail page: scale to 3.
	wd.click(wd.find(`[data-testid=deployment-row][data-name="web"] [data-testid=detail-link]`))
	replicas := wd.waitFor("#scale-replicas", 30*time.Second)
	if name := wd.text(wd.find(`[data-testid=detail-name]`)); name != "web" {
		t.Errorf("detail page of %q, want web", name)
	}
	wd.clear(replicas)
	wd.sendKeys(replicas, "3")
	wd.click(wd.find("#scale-submit"))
	flash := wd.waitFor("#flash", 30*time.Second)
	t.Logf("after scaling: %s says %q", wd.currentURL(), wd.text(flash))
	eventually(t, 10*time.Second, "deployment web spec.replicas 3", func() error {
		out, err := s.kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}")
		if err != nil || strings.TrimSpace(out) != "3" {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	waitWebPods(t, s, 3)
	eventually(t, 30*time.Second, "detail page shows 3 ready", func() error {
		wd.navigate(dashboardURL + "deployment?ns=default&name=web")
		el, err := wd.tryFind(`[data-testid=desired]`)
		if err != nil {
			return err
		}
		desired := wd.text(el)
		ready := wd.text(wd.find(`[data-testid=detail] [data-testid=ready]`))
		if desired != "3" || ready != "3" {
			return fmt.Errorf("desired %q, ready %q", desired, ready)
		}
		return nil
	})
	if n := len(wd.findAll(`[data-testid=pod-row]`)); n != 3 {
		t.Errorf("detail page lists %d pods, want 3", n)
	}
	shot("scaled")

	// Pods: a web pod's log.
	wd.click(wd.find(`[data-testid=nav-pods]`))
	wd.waitFor(`[data-testid=pod-row]`, 30*time.Second)
	wd.click(wd.find(fmt.Sprintf(`[data-testid=pod-row][data-name=%q] [data-testid=pod-log-link]`, pods[0])))
	logText := wd.text(wd.waitFor("#pod-log", 30*time.Second))
	if !strings.Contains(logText, "listening on :8080") {
		t.Errorf("log of %s in the dashboard = %q, want it to contain %q", pods[0], logText, "listening on :8080")
	}
	if pod := wd.text(wd.find(`[data-testid=log-pod]`)); pod != pods[0] {
		t.Errorf("log page of %q, want %s", pod, pods[0])
	}
	shot("pod-log")

	// Sign out, sign in as a ServiceAccount without rights: RBAC applies to what it sees.
	wd.click(wd.find("#logout"))
	msg := wd.waitFor("#login-message", 30*time.Second)
	t.Logf("after logout: %q", wd.text(msg))
	wd.navigate(dashboardURL + "workloads")
	wd.waitFor("#login-token", 30*time.Second) // the old session is gone
	login(t, wd, nobodyToken, nobodyUser)
	wd.click(wd.find(`[data-testid=nav-workloads]`))
	forbidden := wd.waitFor(`[data-testid=error][data-code="403"]`, 30*time.Second)
	t.Logf("workloads as %s: %q", nobodyUser, wd.text(forbidden))
	if rows := wd.findAll(`[data-testid=deployment-row]`); len(rows) != 0 {
		t.Errorf("a user without rights sees %d deployment rows", len(rows))
	}
	shot("forbidden")
}

// login signs in with a token on the login page and checks who the dashboard says we are.
func login(t *testing.T, wd *webDriver, token, wantUser string) {
	t.Helper()
	field := wd.waitFor("#login-token", 30*time.Second)
	wd.sendKeys(field, token)
	wd.click(wd.find("#login-submit"))
	user := wd.waitFor("#current-user", 30*time.Second)
	if got := wd.text(user); got != wantUser {
		t.Fatalf("signed in as %q, want %q", got, wantUser)
	}
}

// startLogged starts a helper process (inside the namespace) with its output in the artifacts
// dir, and stops it when the test ends: stop, then SIGKILL after 10 s. The process leads
// its own process group, so whatever it started (chromedriver's browser) goes with it.
func startLogged(t *testing.T, name string, stop syscall.Signal, cmd *exec.Cmd) string {
	t.Helper()
	path := filepath.Join(artifactsDir, fmt.Sprintf("%s-%s.log", strings.ReplaceAll(t.Name(), "/", "_"), name))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); f.Close() }()
	pgid := cmd.Process.Pid
	t.Cleanup(func() {
		cmd.Process.Signal(stop)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Logf("%s did not stop within 10s of %v; killing it", name, stop)
			cmd.Process.Kill()
			<-exited
		}
		// Anything still running in the group this test created (a browser whose driver
		// is gone).
		for _, pid := range groupMembers(pgid) {
			t.Logf("%s left process %d behind; killing it", name, pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return path
}

// groupMembers lists the live (not zombie) processes of a process group.
func groupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// httpGet fetches a URL and fails unless it answers 200.
func httpGet(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), errors.New(resp.Status)
	}
	return string(body), nil
}

// logNavTiming logs the browser's navigation timing of the current page.
func logNavTiming(t *testing.T, wd *webDriver, what string) {
	t.Helper()
	var nav struct {
		Duration, ResponseStart, DOMContentLoaded, LoadEventEnd float64
		TransferSize                                            int
	}
	raw := wd.execute(`const e = performance.getEntriesByType("navigation")[0];
		return e ? {Duration: e.duration, ResponseStart: e.responseStart, DOMContentLoaded: e.domContentLoadedEventEnd,
			LoadEventEnd: e.loadEventEnd, TransferSize: e.transferSize} : null;`)
	if err := json.Unmarshal(raw, &nav); err != nil || nav.LoadEventEnd == 0 {
		t.Errorf("navigation timing: %s, %v", raw, err)
	}
	t.Logf("%s: %.0f ms (load event end %.0f ms, first byte %.0f ms, DOM ready %.0f ms, %d bytes)",
		what, nav.Duration, nav.LoadEventEnd, nav.ResponseStart, nav.DOMContentLoaded, nav.TransferSize)
}
