package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"time"
)

// inClusterCA is where a pod finds the cluster CA (the kube-root-ca.crt ConfigMap's ca.crt).
const inClusterCA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

// config is the dashboard's configuration, from its command line.
type config struct {
	// Listen is the address served. Default ":9090".
	Listen string
	// TLSCert and TLSKey, when both set, make the dashboard serve HTTPS (and mark its cookies
	// Secure). Default: plain HTTP.
	TLSCert, TLSKey string
	// APIServer is the apiserver's base URL. Default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.
	APIServer string
	// APIServerCA is a PEM file of CAs that sign the apiserver's certificate. Default: the
	// in-cluster CA when APIServer comes from the environment, else the system roots.
	APIServerCA string
	// SessionTTL bounds how long a sign-in lasts (a token's own expiry can end it sooner). Default 12h.
	SessionTTL time.Duration
	// MaxSessions bounds the sessions kept in memory; the oldest goes first. Default 1000.
	MaxSessions int
	// Debug enables debug logging (including every /healthz probe). Default false.
	Debug bool
	// ShowVersion prints the version and exits.
	ShowVersion bool
}

// parseFlags builds the configuration from the command line and, for the apiserver's address,
// the environment a pod gets (getenv is os.Getenv outside tests).
func parseFlags(args []string, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", ":9090", "address to serve on")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM); needs --tls-key")
	fs.StringVar(&c.TLSKey, "tls-key", "", "private key (PEM) for --tls-cert")
	fs.StringVar(&c.APIServer, "apiserver", "", "apiserver URL (default: in-cluster, from KUBERNETES_SERVICE_HOST/PORT)")
	fs.StringVar(&c.APIServerCA, "apiserver-ca", "", "CA bundle (PEM) for the apiserver (default: "+inClusterCA+" in a pod, else system roots)")
	fs.DurationVar(&c.SessionTTL, "session-ttl", 12*time.Hour, "longest a sign-in lasts")
	fs.IntVar(&c.MaxSessions, "max-sessions", 1000, "most sessions kept in memory")
	fs.BoolVar(&c.Debug, "debug", false, "debug logging")
	fs.BoolVar(&c.ShowVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.ShowVersion {
		return c, nil
	}
	if c.APIServer == "" {
		host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return c, errors.New("not in a pod (KUBERNETES_SERVICE_HOST/PORT unset): set --apiserver")
		}
		c.APIServer = "https://" + net.JoinHostPort(host, port)
		if c.APIServerCA == "" {
			c.APIServerCA = inClusterCA
		}
	}
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if u, err := url.Parse(c.APIServer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--apiserver %q: want an http(s) URL", c.APIServer))
	}
	if c.SessionTTL <= 0 {
		errs = append(errs, errors.New("--session-ttl must be positive"))
	}
	if c.MaxSessions <= 0 {
		errs = append(errs, errors.New("--max-sessions must be positive"))
	}
	return errors.Join(errs...)
}
