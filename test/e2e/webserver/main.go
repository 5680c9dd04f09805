// Command webserver is the workload of edgek's end-to-end tests: a static HTTP server that
// answers with its hostname, plus the few client tools tests need inside pods and network
// namespaces: `webserver get URL`, `webserver lookup NAME`, `webserver cert ADDR` (the served
// certificate's expiry), `webserver write FILE TEXT` and `webserver cat FILE` (volumes),
// `webserver dns ADDR RECORDS` (a tiny authoritative DNS responder standing in for the node's
// resolver) and `webserver load URL` (GETs URL without pause until killed: CPU load on a
// /burn endpoint, which spins 20 ms per request, for autoscaling tests).
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	switch {
	case len(os.Args) == 3 && os.Args[1] == "get":
		os.Exit(get(os.Args[2]))
	case len(os.Args) == 3 && os.Args[1] == "cert":
		os.Exit(cert(os.Args[2]))
	case len(os.Args) == 3 && os.Args[1] == "lookup":
		os.Exit(lookup(os.Args[2]))
	case len(os.Args) == 4 && os.Args[1] == "write":
		os.Exit(write(os.Args[2], os.Args[3]))
	case len(os.Args) == 3 && os.Args[1] == "cat":
		os.Exit(cat(os.Args[2]))
	case len(os.Args) == 4 && os.Args[1] == "dns":
		log.Fatal(serveDNS(os.Args[2], os.Args[3]))
	case len(os.Args) == 3 && os.Args[1] == "load":
		load(os.Args[2])
	}
	host, _ := os.Hostname()
	http.HandleFunc("/burn", func(w http.ResponseWriter, r *http.Request) {
		for end := time.Now().Add(20 * time.Millisecond); time.Now().Before(end); {
		}
		fmt.Fprintln(w, host)
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("request %s %s from %s", r.Method, r.URL.Path, r.RemoteAddr)
		fmt.Fprintln(w, host)
	})
	addr := ":8080"
	if v := os.Getenv("LISTEN"); v != "" {
		addr = v
	}
	log.Printf("webserver %s listening on %s", host, addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}

func get(url string) int {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status)
		return 1
	}
	return 0
}

// load GETs url over and over (errors too: pods come and go behind a Service) until killed.
func load(url string) {
	c := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := c.Get(url)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// cert prints the expiry (RFC 3339) and subject of the certificate served at addr.
func cert(addr string) int {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	fmt.Println(leaf.NotAfter.UTC().Format(time.RFC3339), leaf.Subject.CommonName)
	return 0
}

// write puts text into file (in a volume), as the pod's user.
func write(file, text string) int {
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// cat prints file.
func cat(file string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Stdout.Write(data)
	return 0
}
