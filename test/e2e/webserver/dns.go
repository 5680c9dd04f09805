package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// serveDNS answers A queries over UDP on addr from records ("name=ip,..."), NXDOMAIN for
// anything else: the stand-in for "the node's resolver" in tests, which may not use a real one.
func serveDNS(addr, records string) error {
	table := map[string]netip.Addr{}
	for _, r := range strings.Split(records, ",") {
		name, ip, ok := strings.Cut(r, "=")
		if !ok {
			return fmt.Errorf("record %q: want name=ip", r)
		}
		table[strings.ToLower(strings.TrimSuffix(name, "."))+"."] = netip.MustParseAddr(ip)
	}
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	log.Printf("dns responder on %s", addr)
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return err
		}
		if resp, err := answer(buf[:n], table); err == nil {
			conn.WriteTo(resp, from)
		}
	}
}

// answer builds the reply to one query.
func answer(q []byte, table map[string]netip.Addr) ([]byte, error) {
	if len(q) < 12 {
		return nil, errors.New("short")
	}
	name, end, err := readName(q, 12)
	if err != nil || end+4 > len(q) {
		return nil, errors.New("bad question")
	}
	qtype := binary.BigEndian.Uint16(q[end:])
	resp := append([]byte{}, q[:end+4]...)
	resp[2] = 0x84 | (q[2] & 0x01) // QR, AA, keep RD
	resp[3] = 0x00
	binary.BigEndian.PutUint16(resp[4:], 1) // QDCOUNT
	binary.BigEndian.PutUint16(resp[8:], 0)
	binary.BigEndian.PutUint16(resp[10:], 0)
	ip, ok := table[strings.ToLower(name)]
	switch {
	case !ok:
		resp[3] = 0x03 // NXDOMAIN
		binary.BigEndian.PutUint16(resp[6:], 0)
	case qtype == 1 && ip.Is4():
		binary.BigEndian.PutUint16(resp[6:], 1)
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		resp = append(resp, ip.AsSlice()...)
	default: // name exists, no record of that type
		binary.BigEndian.PutUint16(resp[6:], 0)
	}
	return resp, nil
}

func readName(b []byte, off int) (string, int, error) {
	var labels []string
	for off < len(b) {
		l := int(b[off])
		off++
		if l == 0 {
			return strings.Join(labels, ".") + ".", off, nil
		}
		if l > 63 || off+l > len(b) {
			return "", 0, errors.New("bad label")
		}
		labels = append(labels, string(b[off:off+l]))
		off += l
	}
	return "", 0, errors.New("unterminated name")
}

// lookup resolves name with the resolver of the environment (a pod's resolv.conf) and prints
// the addresses, one per line.
func lookup(name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := (&net.Resolver{PreferGo: true}).LookupHost(ctx, name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, a := range addrs {
		fmt.Println(a)
	}
	return 0
}
