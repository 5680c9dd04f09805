package main

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestAge(t *testing.T) {
	now := testNow
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {45 * time.Second, "45s"}, {3*time.Minute + 20*time.Second, "3m20s"}, {90 * time.Minute, "90m"},
		{5*time.Hour + 7*time.Minute, "5h7m"}, {30 * time.Hour, "30h"}, {3*24*time.Hour + 5*time.Hour, "3d5h"},
		{40 * 24 * time.Hour, "40d"}, {3 * 365 * 24 * time.Hour, "3y"},
	} {
		if got := age(now.Add(-tc.d), now); got != tc.want {
			t.Errorf("age(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := age(time.Time{}, now); got != "-" {
		t.Errorf("age(zero) = %q", got)
	}
}

func TestHumanBytes(t *testing.T) {
	for in, want := range map[string]string{
		"8029832Ki": "7.7Gi", "3981312Ki": "3.8Gi", "512Mi": "512.0Mi", "1G": "953.7Mi", "1000": "1000",
		"128974848": "123.0Mi", "129e6": "123.0Mi", "junk": "junk", "": "",
	} {
		if got := humanBytes(in); got != want {
			t.Errorf("humanBytes(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"default", "kube-system", "web-7d4b9c-abcde", "a", "my.app", "0abc"} {
		if !validName(ok) {
			t.Errorf("validName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "Default", "-a", "a-", ".a", "a..b", "a/b", "../etc", "a b", "a_b", "é", strings.Repeat("a", 254)} {
		if validName(bad) {
			t.Errorf("validName(%q) = true", bad)
		}
	}
}

func TestPodStatus(t *testing.T) {
	mk := func(f func(p *pod)) *pod {
		p := &pod{}
		p.Status.Phase = "Running"
		p.Spec.Containers = []container{{Name: "c"}}
		f(p)
		return p
	}
	waiting := func(reason string) containerStatus {
		var cs containerStatus
		cs.State.Waiting = &struct{ Reason string }{reason}
		return cs
	}
	now := testNow
	for _, tc := range []struct {
		name string
		p    *pod
		want string
	}{
		{"running", mk(func(p *pod) {}), "Running"},
		{"crashloop", mk(func(p *pod) { p.Status.ContainerStatuses = []containerStatus{waiting("CrashLoopBackOff")} }), "CrashLoopBackOff"},
		{"evicted", mk(func(p *pod) { p.Status.Phase, p.Status.Reason = "Failed", "Evicted" }), "Evicted"},
		{"init", mk(func(p *pod) {
			p.Spec.InitContainers = []container{{Name: "a"}, {Name: "b"}}
			p.Status.InitContainerStatuses = []containerStatus{waiting("PodInitializing")}
		}), "Init:0/2"},
		{"init crash", mk(func(p *pod) {
			p.Spec.InitContainers = []container{{Name: "a"}}
			p.Status.InitContainerStatuses = []containerStatus{waiting("CrashLoopBackOff")}
		}), "Init:CrashLoopBackOff"},
		{"terminating", mk(func(p *pod) { p.Metadata.DeletionTimestamp = &now }), "Terminating"},
		{"empty", &pod{}, "Unknown"},
	} {
		if got := podStatus(tc.p); got != tc.want {
			t.Errorf("%s: podStatus = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	pod := env(map[string]string{"KUBERNETES_SERVICE_HOST": "10.43.0.1", "KUBERNETES_SERVICE_PORT": "443"})

	c, err := parseFlags(nil, pod)
	if err != nil || c.APIServer != "https://10.43.0.1:443" || c.APIServerCA != inClusterCA || c.Listen != ":9090" ||
		c.SessionTTL != 12*time.Hour || c.TLSCert != "" {
		t.Errorf("in a pod: %+v, %v", c, err)
	}
	c, err = parseFlags(nil, env(map[string]string{"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}))
	if err != nil || c.APIServer != "https://[fd00::1]:443" {
		t.Errorf("IPv6 service host: %+v, %v", c, err)
	}
	c, err = parseFlags([]string{"--apiserver", "https://127.0.0.1:6443", "--listen", "127.0.0.1:8080"}, pod)
	if err != nil || c.APIServerCA != "" || c.Listen != "127.0.0.1:8080" {
		t.Errorf("explicit apiserver: %+v, %v", c, err)
	}
	for _, args := range [][]string{
		{"--tls-cert", "x.crt"},
		{"--apiserver", "ftp://x"},
		{"--session-ttl", "0s"},
		{"extra"},
	} {
		if _, err := parseFlags(args, pod); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if _, err := parseFlags(nil, env(nil)); err == nil || !strings.Contains(err.Error(), "--apiserver") {
		t.Errorf("outside a pod: %v", err)
	}
}

func TestSessionStore(t *testing.T) {
	now := testNow
	st := newSessionStore(time.Hour, 2, func() time.Time { return now })
	a := st.create("a", userInfo{Username: "a"})
	if a.id == "" || a.csrf == "" || a.id == a.csrf || st.get(a.id) != a || a.namespace() != "default" {
		t.Fatalf("session %+v", a)
	}
	// A JWT's exp shortens the session.
	claims := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"exp":%d}`, now.Add(10*time.Minute).Unix()))
	b := st.create("h."+claims+".s", userInfo{})
	if !b.expires.Equal(now.Add(10 * time.Minute)) {
		t.Errorf("JWT session expires %v", b.expires)
	}
	// Full: the session expiring first makes room.
	c := st.create("c", userInfo{})
	if st.get(b.id) != nil || st.get(a.id) != a || st.get(c.id) != c {
		t.Error("eviction did not drop the session expiring first")
	}
	now = now.Add(2 * time.Hour)
	if st.get(a.id) != nil || st.len() != 1 {
		t.Error("expired session still served")
	}
	if st.get("nope") != nil {
		t.Error("unknown id served")
	}
}
